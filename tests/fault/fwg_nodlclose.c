/* fwg_nodlclose.so: dlclose() that does nothing, preloaded into the broker of
 * the ASan run (.ci/sanitizers.sh). Mosquitto unloads its plugins before it
 * exits; LeakSanitizer runs after that and could then not symbolize a leak
 * allocated by the plugin ("<unknown module>"), nor match suppressions by
 * module. Keeping the plugin mapped costs nothing at exit.
 * SPDX-License-Identifier: Apache-2.0 */
int dlclose(void *handle);
int dlclose(void *handle)
{
	(void)handle;
	return 0;
}
