/*
 * core/cli/main.c - the pgmove program.
 */
#include "config.h"

#include "cli.h"

int main(int argc, char **argv)
{
	return pgmove_main(argc, argv);
}
