/* shardflow: the command. Dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include <ucp/api/ucp.h>
#ifdef SF_HAVE_NCCL
#include <nccl.h>
#endif

#include "cli.h"
#include "collbench_run.h"
#include "commands.h"
#include "cuda_device.h"
#include "memviz.h"

static void print_version(void)
{
    printf("shardflow %s\n", SF_VERSION);
    printf("  ucx:  %s\n", ucp_get_version_string());
#ifdef SF_CUDA_VERSION
    printf("  cuda: %s\n", SF_CUDA_VERSION);
#else
    printf("  cuda: not built\n");
#endif
#ifdef SF_HAVE_NCCL
    printf("  nccl: %d.%d.%d\n", NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH);
#else
    printf("  nccl: not built\n");
#endif
}

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: shardflow <command> [options]\n"
            "\n"
            "commands:\n"
            "  run GRAPH.yaml    execute a graph on the cpu, every byte accounted\n"
            "  plan GRAPH.yaml   the same on the meta device: peak memory without running\n"
            "  check GRAPH.yaml  load and validate a graph, print nothing else on success\n"
            "  ops               list the registered ops with their attrs\n"
            "  collbench         time a collective over sizes, nccl-tests table\n"
            "  export-model MODEL DIR  write a synthetic model as a Hugging Face checkpoint\n"
            "  memviz TRACE.json  memory timeline (HTML/SVG), two-run comparison, peak summary\n"
            "\n"
            "  shardflow <command> --help   options of one command\n"
            "  shardflow --version          version and the optional parts built in\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    /* Registering touches no GPU: `ops` lists the cuda kernels anywhere. */
    sf_cuda_register();
    sf_cli_json_errors_from_argv(argc, argv);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        print_version();
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return sf_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "plan") == 0)
        return sf_cmd_plan(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return sf_cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "ops") == 0)
        return sf_cmd_ops(argc - 1, argv + 1);
    if (strcmp(cmd, "collbench") == 0)
        return sf_cmd_collbench(argc - 1, argv + 1);
    if (strcmp(cmd, "export-model") == 0)
        return sf_cmd_export_model(argc - 1, argv + 1);
    if (strcmp(cmd, "memviz") == 0)
        return sf_cmd_memviz(argc - 1, argv + 1);
    fprintf(stderr, "shardflow: unknown command '%s'\n", cmd);
    print_usage(stderr);
    return 2;
}
