#include "cli.h"
int publish_main(int a, char **b){(void)a;(void)b;return 2;}
