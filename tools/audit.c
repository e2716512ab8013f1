/* fwguard audit verify FILE: checks the hash chain of an audit log (§8)
 * and prints the number of records per event. Exit 1 when the chain is
 * broken (naming the line). SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "fwguard/audit.h"

static const char usage[] = "verify FILE\n"
	"  Checks the hash chain of an fwguard audit log and counts records per event.\n";

struct counts {
	struct { char *name; size_t n; } *ev;
	size_t len, cap;
	bool oom;
};

static void count_event(const char *event, void *ud)
{
	struct counts *c = ud;
	for(size_t i = 0; i < c->len; i++){
		if(!strcmp(c->ev[i].name, event)){
			c->ev[i].n++;
			return;
		}
	}
	if(c->len == c->cap){
		size_t ncap = c->cap ? c->cap * 2 : 16;
		void *p = realloc(c->ev, ncap * sizeof(*c->ev));
		if(p == NULL){ c->oom = true; return; }
		c->ev = p;
		c->cap = ncap;
	}
	c->ev[c->len].name = strdup(event);
	if(c->ev[c->len].name == NULL){ c->oom = true; return; }
	c->ev[c->len].n = 1;
	c->len++;
}

static int cmp_ev(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int audit_main(int argc, char *argv[])
{
	if(argc >= 2 && !strcmp(argv[1], "--help")){
		cli_usage(usage);
		return EXIT_OK;
	}
	if(argc < 2) return cli_usage(usage);
	if(strcmp(argv[1], "verify")){
		cli_err("invalid audit subcommand '%s'", argv[1]);
		return cli_usage(usage);
	}
	if(argc != 3) return cli_usage(usage);
	const char *path = argv[2];
	struct counts c = { 0 };
	size_t records = 0, bad = 0;
	int r = fwg_audit_verify_file(path, count_event, &c, &records, &bad);
	int rc;
	if(r < 0){
		cli_err("cannot read '%s'", path);
		rc = EXIT_USAGE;
	}else{
		qsort(c.ev, c.len, sizeof(*c.ev), cmp_ev);
		if(r == 0)
			printf("%s: %zu records, hash chain intact\n", path, records);
		else
			printf("%s: %zu records verified before line %zu\n", path, records, bad);
		for(size_t i = 0; i < c.len; i++) printf("%7zu  %s\n", c.ev[i].n, c.ev[i].name);
		if(r == 1){
			cli_err("'%s': hash chain broken at line %zu", path, bad);
			rc = EXIT_REJECT;
		}else{
			rc = EXIT_OK;
		}
	}
	for(size_t i = 0; i < c.len; i++) free(c.ev[i].name);
	free(c.ev);
	return rc;
}
