#include "cli.h"
int device_main(int a, char **b){(void)a;(void)b;return 2;}
