/* Status codes and the error record every fallible function fills.
 * Invariant: the first error recorded wins; reporting never allocates. */
#ifndef SF_STATUS_H
#define SF_STATUS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define SF_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define SF_NODISCARD __attribute__((warn_unused_result))

typedef enum sf_status {
    SF_OK = 0,
    SF_INPROGRESS,      /* not an error: async work is still running */
    SF_ERR_PARSE,       /* the YAML (or JSON, or a header) is not well formed */
    SF_ERR_GRAPH,       /* well-formed input, invalid graph: unknown op, cycle, shape */
    SF_ERR_INPUT,       /* bad user input outside the graph: a file, a flag, a value */
    SF_ERR_IO,          /* the OS refused a read or write */
    SF_ERR_NOMEM,       /* a host or device allocation failed */
    SF_ERR_DEVICE,      /* the CUDA runtime reported an error */
    SF_ERR_COMM,        /* UCX or NCCL reported an error, or a peer is gone */
    SF_ERR_UNSUPPORTED, /* a valid request with no kernel or algorithm for it */
    SF_ERR_TIMEOUT,
} sf_status_t;

/* A position in a user's input file. file is borrowed (it points into the
 * loader's file table, which outlives every error that mentions it). */
typedef struct sf_pos {
    const char *file; /* borrowed; NULL if unknown */
    int line;         /* 1-based; 0 if unknown */
    int col;          /* 1-based; 0 if unknown */
} sf_pos_t;

typedef struct sf_err {
    sf_status_t code;
    char file[256]; /* copied, so an error outlives the loader that raised it */
    int line;
    int col;
    char msg[512]; /* fixed size: reporting an error never allocates */
} sf_err_t;

/* Record the first error and return its code. Later errors do not overwrite
 * it, but the code of the later call is still returned. pos may be NULL. */
sf_status_t sf_err_set(sf_err_t *err, sf_status_t code, const sf_pos_t *pos,
                       const char *fmt, ...) SF_PRINTF(4, 5);
sf_status_t sf_err_setv(sf_err_t *err, sf_status_t code, const sf_pos_t *pos,
                        const char *fmt, va_list ap);

void sf_err_clear(sf_err_t *err);

/* Render like a compiler: "file:line:col: error: msg" (parts omitted when
 * unknown). Writes at most n bytes including the NUL. */
void sf_err_format(const sf_err_t *err, char *out, size_t n);

/* Print the rendered error to f with a trailing newline. */
void sf_err_print(const sf_err_t *err, FILE *f);

/* Exit code for a failed command: 2 for bad input (parse, graph, input),
 * 1 for everything else. */
int sf_status_exit_code(sf_status_t code);

const char *sf_status_name(sf_status_t code);

/* Always on, release builds too: only for our own invariants, never for
 * anything that came from a user, a peer or a device. */
#define SF_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            sf_assert_fail(__FILE__, __LINE__, #cond);                         \
    } while (0)

#ifdef SF_DEBUG
#define SF_DEBUG_ASSERT(cond) SF_ASSERT(cond)
#else
#define SF_DEBUG_ASSERT(cond) ((void)0)
#endif

_Noreturn void sf_assert_fail(const char *file, int line, const char *cond);

#endif
