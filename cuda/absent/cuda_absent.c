/* A build without the CUDA toolkit: no cuda device to register, no GPU. The
 * planning device and the scratch rules (the .c files of cuda/) exist in every build. */
#include "cuda_device.h"

void sf_cuda_register(void)
{
}

bool sf_cuda_available(void)
{
    return false;
}
