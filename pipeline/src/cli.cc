#include "cli.h"

#include <CLI/CLI.hpp>

namespace chorus {

int RunCli(int argc, char** argv) {
  CLI::App app{"chorus: engagement streaming pipeline"};
  app.require_subcommand(1);
  app.add_subcommand("demo", "everything on one machine");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}

}  // namespace chorus
