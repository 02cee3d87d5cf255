/* The subcommands of `shardflow` that live in this folder; memviz and
 * collbench declare theirs in their own folders. Each takes argv from the
 * subcommand's name on and returns the process exit status (2: bad input). */
#ifndef SF_COMMANDS_H
#define SF_COMMANDS_H

int sf_cmd_run(int argc, char **argv);
int sf_cmd_plan(int argc, char **argv);
int sf_cmd_check(int argc, char **argv);
int sf_cmd_ops(int argc, char **argv);
int sf_cmd_export_model(int argc, char **argv);

#endif
