// chorus: parse the command line and hand over; see cli.h.
#include "cli.h"

int main(int argc, char** argv) { return chorus::RunCli(argc, argv); }
