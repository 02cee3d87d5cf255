/* See gpu_probe.h. */
#include "gpu_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cuda_device.h"

bool gpu_present(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(sf_cuda_available() ? 0 : 1);
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

int gpu_skip(void)
{
    const char *req = getenv("SF_REQUIRE_GPU");
    bool required = req != NULL && strcmp(req, "1") == 0;
    printf("SKIP: no CUDA GPU (or not built with CUDA)%s\n",
           required ? "; SF_REQUIRE_GPU=1 makes that a failure" : "");
    return required ? 1 : 77;
}
