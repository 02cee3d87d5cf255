/* Whether the GPU suites (tests/cuda) run here, and how they skip. */
#ifndef SF_TESTS_GPU_PROBE_H
#define SF_TESTS_GPU_PROBE_H

#include <stdbool.h>

/* Is a CUDA GPU usable? Asked in a child process: a process that has
 * touched CUDA must not fork children that use it, and Check forks one per
 * test. */
bool gpu_present(void);

/* Say SKIP and return the suite's exit status: 77 (skipped), or 1 with
 * SF_REQUIRE_GPU=1 (tools/gpu_check.sh), where a skip is a failure. */
int gpu_skip(void);

#endif
