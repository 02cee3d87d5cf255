/* shardflow run: execute a graph, on one rank or as one rank of a group.
 * With --nproc N this process is only the launcher: it checks the graph
 * once (bad input fails before any rank starts), starts N ranks of itself,
 * and prints the report rank 0 leaves in a file, unprefixed, so --json stays
 * machine-readable. With --emulate-world N --emulate-rank R it is rank R of
 * N alone, its collectives done locally (emulate_flags.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "byte_size.h"
#include "cli.h"
#include "commands.h"
#include "cuda_device.h"
#include "emulate_flags.h"
#include "graph_session.h"
#include "report.h"
#include "launch.h"
#include "launch_env.h"
#include "rank_group.h"
#include "outfile.h"
#include "trace_merge.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shardflow run GRAPH.yaml [options]\n"
            "\n"
            "  --set KEY=VALUE     override a graph param (repeatable; unknown keys are an error)\n"
            "  --inputs FILE       graph inputs from a .safetensors file, by tensor name\n"
            "  --out DIR           write the graph outputs to DIR/rank<R>.safetensors\n"
            "  --overwrite         replace existing output files (refused otherwise)\n"
            "  --trace FILE.json   Chrome trace of nodes and buffer lifetimes (ui.perfetto.dev);\n"
            "                      one process per rank\n"
            "  --free eager|end    free each buffer after its last reader (default) or only at\n"
            "                      the end (the no-liveness baseline)\n"
            "  --alias on|off      compute a buffer straight into its reader's output where\n"
            "                      the reader is a concat or pad (default on; off: a copy)\n"
            "  --nproc N           start N local ranks (one process each); without it a rank\n"
            "                      reads RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT (torchrun),\n"
            "                      OMPI_COMM_WORLD_* (mpirun) or SLURM_PROCID/NTASKS (srun)\n"
            "  --backend NAME      collectives: auto (default: nccl on cuda, else ucx; self\n"
            "                      for one rank), ucx, nccl or self\n"
            "  --device NAME       where buffers live and kernels run: cpu (default), cuda\n"
            "                      (one GPU per rank: LOCAL_RANK modulo the GPUs seen) or auto\n"
            "                      (cuda when this build has it and a GPU is visible)\n"
            "  --emulate-world N   with --emulate-rank R (0..N-1, N at most 4096): run rank R's\n"
            "  --emulate-rank R    share of an N-rank job alone in this process, every collective\n"
            "                      done locally with correctly sized, not correctly valued, data:\n"
            "                      what rank R holds, measured without the other ranks (its peak\n"
            "                      is plan --world N --rank R's to the byte); the report says\n"
            "                      emulated. Not with --nproc, --backend (but auto) or --out\n"
            "  --timeout S         give up on a rendezvous or collective after S seconds (300)\n"
            "  --steps N           run N steps, step k taking batch k of the --inputs file (its\n"
            "                      tensors hold K batches stacked along dim 0); outputs go to\n"
            "                      DIR/step<k>/rank<R>.safetensors\n"
            "  --mem-limit BYTES   most memory one rank may hold (80G, 141G, 512M, 1024; K/M/G/T\n"
            "                      = 1024^n): the rank's plan is checked first and a peak over it\n"
            "                      is refused (exit 2) before anything runs; an allocation that\n"
            "                      would pass it during the run fails (exit 1)\n"
            "  --profile           per-node wall times, slowest first\n"
            "  --json              one JSON object on stdout instead of the table\n"
            "\n"
            "exit status: 0 ok, 2 bad input (graph, flags, files), 1 other failures;\n"
            "with --nproc, the status of the first rank that failed\n");
}

typedef struct run_args {
    sf_cli_graph_args_t g;
    sf_session_opts_t o;
    const char *trace_path;
    const char *backend;
    const char *device; /* cpu, cuda or auto: resolved by each rank */
    double timeout_s;
    bool profile;
    int steps;
    sf_emulate_flags_t emulate;
} run_args_t;

/* The process that prints the report and the progress: rank 0 of a real
 * group, or the one emulated rank, whichever it is. */
static bool is_reporter(const run_args_t *a, int rank)
{
    return rank == 0 || sf_emulate_flags_on(&a->emulate);
}

/* Parse everything but --nproc (already stripped). Returns 1 if --help. */
static int parse(run_args_t *a, int argc, char **argv, sf_err_t *err)
{
    for (int i = 1; i < argc && err->code == SF_OK; i++) {
        const char *arg = argv[i];
        if (sf_cli_take_common(&a->g, argc, argv, &i, err) != 0 ||
            sf_emulate_flags_take(&a->emulate, argc, argv, &i, err))
            continue;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            return 1;
        } else if (sf_cli_is_option(arg, "--inputs")) {
            a->o.inputs_path = sf_cli_option_value(argc, argv, &i, err);
        } else if (sf_cli_is_option(arg, "--out")) {
            a->o.out_dir = sf_cli_option_value(argc, argv, &i, err);
        } else if (strcmp(arg, "--overwrite") == 0) {
            a->o.overwrite = true;
        } else if (sf_cli_is_option(arg, "--trace")) {
            a->trace_path = sf_cli_option_value(argc, argv, &i, err);
        } else if (sf_cli_is_option(arg, "--free")) {
            const char *v = sf_cli_option_value(argc, argv, &i, err);
            if (v != NULL && !sf_free_policy_parse(v, &a->o.free_policy))
                sf_err_set(err, SF_ERR_INPUT, NULL, "--free expects eager or end, got '%s'", v);
        } else if (sf_cli_is_option(arg, "--alias")) {
            const char *v = sf_cli_option_value(argc, argv, &i, err);
            bool in_place = true;
            if (v != NULL && sf_cli_parse_on_off("--alias", v, &in_place, err))
                a->o.no_alias = !in_place;
        } else if (sf_cli_is_option(arg, "--backend")) {
            const char *v = sf_cli_option_value(argc, argv, &i, err);
            if (v != NULL && strcmp(v, "auto") != 0 && strcmp(v, "ucx") != 0 &&
                strcmp(v, "nccl") != 0 && strcmp(v, "self") != 0)
                sf_err_set(err, SF_ERR_INPUT, NULL,
                           "--backend expects auto, ucx, nccl or self, got '%s'", v);
            a->backend = v;
        } else if (sf_cli_is_option(arg, "--device")) {
            const char *v = sf_cli_option_value(argc, argv, &i, err);
            if (v != NULL && strcmp(v, "cpu") != 0 && strcmp(v, "cuda") != 0 &&
                strcmp(v, "auto") != 0)
                sf_err_set(err, SF_ERR_INPUT, NULL, "--device expects cpu, cuda or auto, got '%s'",
                           v);
            else if (v != NULL && strcmp(v, "cuda") == 0 && sf_device_by_name("cuda") == NULL)
                sf_err_set(err, SF_ERR_INPUT, NULL,
                           "--device cuda: this shardflow was built without CUDA (see "
                           "`shardflow --version`)");
            a->device = v;
        } else if (sf_cli_is_option(arg, "--timeout")) {
            const char *v = sf_cli_option_value(argc, argv, &i, err);
            char *end = NULL;
            double t = v != NULL ? strtod(v, &end) : 0;
            if (v != NULL && (end == v || *end != '\0' || !(t > 0) || t > 1e6))
                sf_err_set(err, SF_ERR_INPUT, NULL, "--timeout expects seconds > 0, got '%s'", v);
            a->timeout_s = t;
        } else if (sf_cli_is_option(arg, "--mem-limit")) {
            const char *v = sf_cli_option_value(argc, argv, &i, err);
            if (v != NULL && sf_byte_size_parse("--mem-limit", v, &a->o.mem_limit, err) != SF_OK)
                continue; /* err holds it; the loop stops */
        } else if (strcmp(arg, "--profile") == 0) {
            a->profile = true;
        } else if (sf_cli_is_option(arg, "--steps")) {
            const char *v = sf_cli_option_value(argc, argv, &i, err);
            char *end = NULL;
            long n = v != NULL ? strtol(v, &end, 10) : 0;
            if (v != NULL && (end == v || *end != '\0' || n < 1 || n > 1000000))
                sf_err_set(err, SF_ERR_INPUT, NULL, "--steps expects 1..1000000, got '%s'", v);
            a->steps = (int)n;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            sf_err_set(err, SF_ERR_INPUT, NULL, "run: unknown option '%s' (see --help)", arg);
        } else if (a->g.graph_path == NULL) {
            a->g.graph_path = arg;
        } else {
            sf_err_set(err, SF_ERR_INPUT, NULL, "run: unexpected argument '%s'", arg);
        }
    }
    if (err->code == SF_OK && a->g.graph_path == NULL)
        sf_err_set(err, SF_ERR_INPUT, NULL, "run: no graph file given (see --help)");
    if (err->code == SF_OK && a->steps > 1 && a->o.inputs_path == NULL)
        sf_err_set(err, SF_ERR_INPUT, NULL, "--steps %d needs --inputs (a file holding the batches)",
                   a->steps);
    if (a->steps < 1)
        a->steps = 1;
    return 0;
}

/* The trace file of one rank when several write: X.json -> X.rank<R>.json. */
static void rank_trace_path(const char *path, int rank, char *out, size_t n)
{
    size_t len = strlen(path);
    if (len > 5 && strcmp(path + len - 5, ".json") == 0)
        snprintf(out, n, "%.*s.rank%d.json", (int)(len - 5), path, rank);
    else
        snprintf(out, n, "%s.rank%d.json", path, rank);
}

/* Global tokens of one step: the graph's batch x seq params when it has
 * both (the Eagle3 graph does); 0 when it does not say. */
static int64_t step_tokens(const sf_graph_t *g)
{
    const sf_param_t *b = sf_graph_find_param(g, "batch"), *s = sf_graph_find_param(g, "seq");
    if (b == NULL || s == NULL || b->value.type != SF_VALUE_INT || s->value.type != SF_VALUE_INT ||
        b->value.i <= 0 || s->value.i <= 0 || b->value.i > INT32_MAX || s->value.i > INT32_MAX)
        return 0;
    return b->value.i * s->value.i;
}

/* Progress of a multi-step run, on rank 0: a bar on a terminal, one line
 * per step otherwise (logs, pipes, the --nproc launcher). Steps are
 * numbered from 0 as the step<k> folders and the batches of --inputs are:
 * "step 0 (1 of 3)". */
static void print_progress(const sf_graph_t *g, int step, int n_steps, const sf_rank_report_t *r,
                           double total_s)
{
    char rate[48] = "";
    int64_t tokens = step_tokens(g);
    if (tokens > 0 && r->stats.wall_s > 0)
        snprintf(rate, sizeof rate, ", %.0f tok/s", (double)tokens / r->stats.wall_s);
    else if (tokens > 0)
        snprintf(rate, sizeof rate, ", - tok/s");
    double gib = (double)r->stats.peak_bytes / (1024.0 * 1024.0 * 1024.0);
    if (isatty(STDERR_FILENO)) {
        int width = 30, done = (step + 1) * width / n_steps;
        fprintf(stderr, "\r[%.*s%*s] step %d (%d of %d)  %.2f s%s, peak %.2f GiB", done,
                "##############################", width - done, "", step, step + 1, n_steps,
                total_s, rate, gib);
        if (step + 1 == n_steps)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "step %d (%d of %d): peak %llu bytes (%.2f GiB) at %s, %.3f s%s\n", step,
                step + 1, n_steps, (unsigned long long)r->stats.peak_bytes, gib, r->peak_node,
                r->stats.wall_s, rate);
    }
    fflush(stderr);
}

/* --inputs holding more batches than --steps takes: not an error (a
 * shorter run over a long file is normal), but worth a line. */
static void warn_unused_batches(const run_args_t *a, int batches)
{
    if (batches > a->steps)
        fprintf(stderr,
                "warning: %s holds %d batches; --steps %d uses batches 0..%d, %d left unused\n",
                a->o.inputs_path, batches, a->steps, a->steps - 1, batches - a->steps);
}

/* Every step of this rank on one executor: weights are made in step 0 and
 * kept. The report keeps the worst peak and the sum of the wall times. */
static sf_status_t run_steps(run_args_t *a, const sf_graph_t *g, sf_rank_report_t *mine,
                             sf_err_t *err)
{
    double total_s = 0;
    sf_session_t *s = NULL;
    sf_status_t st = sf_session_open(g, &a->o, &s, err);
    for (int k = 0; st == SF_OK && k < a->steps; k++) {
        sf_rank_report_t r;
        st = sf_session_step(s, k, a->profile && k == a->steps - 1, &r, err);
        if (st != SF_OK) {
            mine->mem_failed = r.mem_failed;
            mine->mem_snap = r.mem_snap;
            break;
        }
        total_s += r.stats.wall_s;
        if (k == 0 || r.stats.peak_bytes > mine->stats.peak_bytes) {
            free(mine->node_us);
            *mine = r;
            mine->stats.peak_node = mine->peak_node;
        } else if (r.node_us != NULL) {
            free(mine->node_us);
            mine->node_us = r.node_us;
        }
        if (a->steps > 1 && is_reporter(a, a->o.rank))
            print_progress(g, k, a->steps, &r, total_s);
    }
    sf_session_close(s);
    mine->stats.wall_s = total_s;
    return st;
}

/* The rank's device. auto asks the driver here, in the rank, never in the
 * --nproc launcher: a process that touched CUDA must not fork ranks. */
static sf_status_t resolve_device(run_args_t *a, sf_err_t *err)
{
    sf_device_t *cuda = sf_device_by_name("cuda");
    if (strcmp(a->device, "cpu") == 0 || (strcmp(a->device, "auto") == 0 &&
                                          (cuda == NULL || !sf_cuda_available()))) {
        a->o.dev = sf_device_cpu();
        return SF_OK;
    }
    if (!sf_cuda_available())
        return sf_err_set(err, SF_ERR_DEVICE, NULL, "--device cuda: no CUDA GPU is visible");
    a->o.dev = cuda;
    return SF_OK;
}

/* One rank: join the group, run, report. */
static int run_rank(run_args_t *a)
{
    sf_err_t err = {0};
    sf_status_t st;
    sf_rank_group_t rg = {0};
    sf_graph_t *g = NULL;
    sf_trace_t *trace = NULL;
    sf_rank_report_t mine = {0};
    sf_rank_report_t *reports = NULL;
    char trace_path[4096];

    bool is_emulated = sf_emulate_flags_on(&a->emulate);
    /* An emulated rank takes its identity from the flags, not from a
     * launcher, and needs no rendezvous: its group is made here. */
    if (is_emulated)
        st = sf_rank_group_emulate(&rg, a->emulate.rank, a->emulate.world, a->timeout_s, &err);
    else
        st = sf_rank_info_from_env(&rg.info, &err);
    /* The device and the NCCL backend both pick their GPU by LOCAL_RANK;
     * under mpirun or srun the local rank has another name: export it, so
     * both see the launcher's answer and agree. */
    if (st == SF_OK && !is_emulated && getenv("LOCAL_RANK") == NULL) {
        char lr[16];
        snprintf(lr, sizeof lr, "%d", rg.info.local_rank);
        setenv("LOCAL_RANK", lr, 0);
    }
    if (st == SF_OK)
        st = resolve_device(a, &err);
    if (st == SF_OK) {
        sf_ops_register_all();
        st = sf_graph_load_file_ranked(a->g.graph_path, a->g.sets, a->g.n_sets, rg.info.rank,
                                       rg.info.world, &g, &err);
    }
    if (st == SF_OK && a->o.inputs_path != NULL) {
        int batches;
        st = sf_session_count_batches(g, a->o.inputs_path, &batches, &err);
        if (st == SF_OK && a->steps > batches)
            st = sf_err_set(&err, SF_ERR_INPUT, NULL, "--steps %d: %s holds %d batches", a->steps,
                            a->o.inputs_path, batches);
        /* Under --nproc the launcher has said it once already. */
        if (st == SF_OK && is_reporter(a, rg.info.rank) && getenv("SF_REPORT_PATH") == NULL)
            warn_unused_batches(a, batches);
    }
    if (st == SF_OK && a->o.out_dir != NULL)
        st = sf_session_check_out(a->o.out_dir, rg.info.rank, a->steps, a->o.overwrite, &err);
    /* Before the rendezvous and the first kernel: a rank whose plan does
     * not fit is refused while nothing has run. */
    bool over_limit = false;
    sf_rank_report_t planned;
    if (st == SF_OK && a->o.mem_limit != 0) {
        sf_session_opts_t po = a->o;
        po.rank = rg.info.rank;
        po.world = rg.info.world;
        po.n_steps = a->steps;
        st = sf_session_check_mem_limit(g, &po, a->o.mem_limit, &planned, &err);
        over_limit = st == SF_ERR_INPUT && planned.stats.peak_bytes > a->o.mem_limit;
    }
    sf_bootstrap_job_t job = {.graph_hash = g != NULL ? sf_graph_hash(g) : 0,
                              .timeout_s = a->timeout_s};
    /* The params behind the hash, so a mismatch names the one that differs. */
    char(*param_text)[256] = calloc(SF_BOOTSTRAP_MAX_PARAMS, sizeof *param_text);
    const char *param_ptr[SF_BOOTSTRAP_MAX_PARAMS];
    SF_ASSERT(param_text != NULL);
    for (int k = 0; g != NULL && k < g->n_params && job.n_params < SF_BOOTSTRAP_MAX_PARAMS; k++) {
        if (strcmp(g->params[k].name, "rank") == 0)
            continue; /* differs by design; sf_graph_hash leaves it out too */
        char value[200];
        sf_value_format(&g->params[k].value, value, sizeof value);
        snprintf(param_text[job.n_params], sizeof param_text[0], "%.50s=%s", g->params[k].name,
                 value);
        param_ptr[job.n_params] = param_text[job.n_params];
        job.n_params++;
    }
    job.params = param_ptr;
    if (st == SF_OK && a->o.inputs_path != NULL && rg.info.world > 1 && !is_emulated)
        st = sf_session_inputs_hash(a->o.inputs_path, &job.inputs_hash, &err);
    if (st == SF_OK && !is_emulated)
        st = sf_rank_group_join(&rg, a->backend,
                                sf_device_mem_kind(a->o.dev) == SF_MEMKIND_CUDA, &job, &err);
    free(param_text);
    job.params = NULL;
    if (st == SF_OK && a->trace_path != NULL) {
        if (rg.info.world > 1 && !is_emulated)
            rank_trace_path(a->trace_path, rg.info.rank, trace_path, sizeof trace_path);
        else
            snprintf(trace_path, sizeof trace_path, "%s", a->trace_path);
        st = sf_trace_open(trace_path, &trace, &err);
    }
    if (st == SF_OK) {
        a->o.rank = rg.info.rank;
        a->o.world = rg.info.world;
        a->o.trace = trace;
        a->o.comm = rg.comm;
        a->o.n_steps = a->steps;
        /* Only the steps' collectives: the join and the report gather use
         * the bootstrap, not the comm, but a barrier or probe at join would
         * still count. */
        sf_comm_t *comm = rg.comm != NULL ? rg.comm : sf_comm_solo();
        uint64_t sent0 = sf_comm_sent_bytes(comm);
        st = run_steps(a, g, &mine, &err);
        uint64_t sent1 = sf_comm_sent_bytes(comm);
        mine.has_sent_bytes = sent0 != SF_COMM_BYTES_UNKNOWN && sent1 != SF_COMM_BYTES_UNKNOWN;
        mine.sent_bytes = mine.has_sent_bytes ? sent1 - sent0 : 0;
    }
    if (trace != NULL) {
        if (st == SF_OK)
            st = sf_trace_close(trace, &err);
        else
            sf_trace_abort(trace);
    }
    if (st == SF_OK) {
        /* An emulated run has one rank's report: the others never ran. */
        reports = calloc(is_emulated ? 1 : (size_t)rg.info.world, sizeof *reports);
        SF_ASSERT(reports != NULL);
        st = sf_rank_group_gather_reports(&rg, &mine, reports, &err);
    }
    if (st == SF_OK && is_reporter(a, rg.info.rank)) {
        /* Under --nproc the launcher prints the report itself, unprefixed. */
        const char *report_path = getenv("SF_REPORT_PATH");
        FILE *f = report_path != NULL ? freopen(report_path, "w", stdout) : stdout;
        if (f == NULL) {
            st = sf_err_set(&err, SF_ERR_IO, NULL, "cannot write the report to %s", report_path);
        } else {
            sf_report_how_t how = {.device = sf_device_name(a->o.dev), .policy = a->o.free_policy,
                                   .world = rg.info.world, .in_place = !a->o.no_alias,
                                   .is_emulated = is_emulated};
            sf_report_print(g, &how, reports, a->g.json);
            if (a->profile && !a->g.json)
                sf_report_print_profile(g, &mine);
            fflush(stdout);
        }
    }
    sf_rank_group_leave(&rg);
    free(reports);
    free(mine.node_us);
    int rc = 0;
    if (st != SF_OK) {
        rc = sf_cli_fail(&err);
        /* The snapshots name tensors of g: print them before it goes. */
        if (over_limit)
            sf_report_print_mem_snapshot(stderr, &planned.mem_snap, false);
        else if (st == SF_ERR_NOMEM && mine.mem_failed)
            sf_report_print_mem_snapshot(stderr, &mine.mem_snap, true);
    }
    sf_graph_free(g);
    return rc;
}

/* The launcher side of --nproc: check once, start the ranks, print. */
static int launch(run_args_t *a, int nproc, int argc, char **argv)
{
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    sf_ops_register_all();
    sf_status_t st = sf_graph_load_file_ranked(a->g.graph_path, a->g.sets, a->g.n_sets, 0, nproc,
                                               &g, &err);
    if (st == SF_OK && a->o.inputs_path != NULL) {
        int batches;
        st = sf_session_count_batches(g, a->o.inputs_path, &batches, &err);
        if (st == SF_OK && a->steps > batches)
            st = sf_err_set(&err, SF_ERR_INPUT, NULL, "--steps %d: %s holds %d batches", a->steps,
                            a->o.inputs_path, batches);
        if (st == SF_OK)
            warn_unused_batches(a, batches);
    }
    for (int r = 0; st == SF_OK && a->o.out_dir != NULL && r < nproc; r++)
        st = sf_session_check_out(a->o.out_dir, r, a->steps, a->o.overwrite, &err);
    /* The merged trace replaces only what may be replaced: say so before
     * the ranks run, not after. */
    if (st == SF_OK && a->trace_path != NULL)
        st = sf_outfile_check(a->trace_path, &err);
    /* The ranks inherit it: only they can join this job's rendezvous. */
    if (st == SF_OK)
        st = sf_bootstrap_token_ensure(&err);
    sf_graph_free(g);
    if (st != SF_OK)
        return sf_cli_fail(&err);

    char report[] = "/tmp/shardflow-report-XXXXXX";
    int fd = mkstemp(report);
    if (fd < 0) {
        perror("shardflow: report file");
        return 1;
    }
    close(fd);
    setenv("SF_REPORT_PATH", report, 1);
    /* argv here starts at "run": the ranks re-run the whole command line. */
    char **full = calloc((size_t)argc + 2, sizeof *full);
    SF_ASSERT(full != NULL);
    full[0] = "shardflow";
    for (int i = 0; i < argc; i++)
        full[i + 1] = argv[i];
    /* Where the ranks write: the launcher removes what a killed rank left. */
    char **sweep = calloc((size_t)a->steps + 3, sizeof *sweep);
    SF_ASSERT(sweep != NULL);
    int n_sweep = 0;
    if (a->trace_path != NULL) {
        const char *slash = strrchr(a->trace_path, '/');
        sweep[n_sweep] = slash == NULL ? strdup(".")
                                       : strndup(a->trace_path, (size_t)(slash - a->trace_path) + 1);
        SF_ASSERT(sweep[n_sweep++] != NULL);
    }
    for (int k = 0; a->o.out_dir != NULL && k < a->steps; k++) {
        char path[4096];
        sf_session_output_path(a->o.out_dir, 0, k, a->steps, path, sizeof path);
        sweep[n_sweep] = strndup(path, (size_t)(strrchr(path, '/') - path));
        SF_ASSERT(sweep[n_sweep++] != NULL);
    }
    int rc = sf_launch_nproc(nproc, argc + 1, full, a->timeout_s, 0,
                             (const char *const *)sweep);
    for (int i = 0; i < n_sweep; i++)
        free(sweep[i]);
    free(sweep);
    free(full);
    unsetenv("SF_REPORT_PATH");
    if (rc == 0 && a->trace_path != NULL) {
        char **parts = calloc((size_t)nproc, sizeof *parts);
        SF_ASSERT(parts != NULL);
        for (int r = 0; r < nproc; r++) {
            parts[r] = malloc(4096);
            SF_ASSERT(parts[r] != NULL);
            rank_trace_path(a->trace_path, r, parts[r], 4096);
        }
        if (sf_trace_merge((const char *const *)parts, nproc, a->trace_path, true, &err) != SF_OK)
            rc = sf_cli_fail(&err);
        for (int r = 0; r < nproc; r++)
            free(parts[r]);
        free(parts);
    }
    if (rc == 0) {
        FILE *f = fopen(report, "rb");
        if (f != NULL) {
            char buf[65536];
            size_t got;
            while ((got = fread(buf, 1, sizeof buf, f)) > 0)
                fwrite(buf, 1, got, stdout);
            fclose(f);
        }
    }
    unlink(report);
    return rc;
}

int sf_cmd_run(int argc, char **argv)
{
    sf_err_t err = {0};
    int nproc = 0, ac = 0;
    char **av = NULL;
    if (sf_launch_strip_nproc(argc, argv, &nproc, &av, &ac, &err) != SF_OK)
        return sf_cli_fail(&err);
    run_args_t *a = calloc(1, sizeof *a);
    SF_ASSERT(a != NULL);
    a->o.dev = sf_device_cpu();
    a->o.world = 1;
    a->backend = "auto";
    a->device = "cpu";
    a->timeout_s = 300;
    int rc;
    if (parse(a, ac, av, &err) == 1) {
        usage(stdout);
        rc = 0;
    } else if (err.code != SF_OK ||
               sf_emulate_flags_check(&a->emulate, nproc, a->backend, a->o.out_dir, &err) !=
                   SF_OK ||
               sf_coll_algo_check_env(&err) != SF_OK) {
        /* A bad SF_COLL_ALGO fails here, before any rank starts. */
        rc = sf_cli_fail(&err);
    } else if (nproc > 0 && getenv(SF_LAUNCHED_ENV) == NULL) {
        rc = launch(a, nproc, ac, av);
    } else {
        rc = run_rank(a);
    }
    free(av);
    free(a);
    return rc;
}
