/* shardflow ops: the registry, as the loader sees it. */
#include <string.h>

#include "cli.h"
#include "commands.h"

static void print_arity(const char *what, int lo, int hi)
{
    if (hi < 0)
        printf("%s %d+", what, lo);
    else if (lo == hi)
        printf("%s %d", what, lo);
    else
        printf("%s %d..%d", what, lo, hi);
}

int sf_cmd_ops(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: shardflow ops\n\nLists every registered op: inputs, outputs, attrs "
                   "(type and default; no default = required) and what it does.\n");
            return 0;
        }
        fprintf(stderr, "error: ops: unexpected argument '%s'\n", argv[i]);
        return 2;
    }
    sf_ops_register_all();
    for (int i = 0; i < sf_op_count(); i++) {
        const sf_op_desc_t *d = sf_op_at(i);
        printf("%s: %s\n  ", d->name, d->doc);
        print_arity("inputs", d->min_inputs, d->max_inputs);
        printf(", ");
        print_arity("outputs", d->min_outputs, d->max_outputs);
        if (d->outputs_are_views)
            printf(" (views of input 0)");
        printf("; kernels:");
        int n_k = 0;
        for (int k = 0; k < sf_device_count(); k++) {
            const sf_device_t *dev = sf_device_at(k);
            /* meta runs no kernels: it is where plans are made, not a target. */
            if (sf_device_touches_memory(dev) && !d->outputs_are_views &&
                sf_device_supports(dev, d, NULL)) {
                printf(" %s", sf_device_name(dev));
                n_k++;
            }
        }
        printf("%s\n", n_k == 0 ? " none (view)" : "");
        for (int k = 0; k < d->n_attrs; k++) {
            const sf_op_attr_desc_t *at = &d->attrs[k];
            printf("    %-12s %-9s", at->name, sf_attr_type_name(at->type));
            if (at->default_text != NULL)
                printf(" = %-8s", at->default_text);
            else
                printf(" %-10s", "(required)");
            printf("  %s\n", at->doc);
        }
    }
    return 0;
}
