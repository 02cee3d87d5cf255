/* SF_VECTOR_CLONES: compile a hot loop once per ISA and let the loader pick
 * the copy by CPU features (GCC's target_clones, an ifunc), with the
 * vectorizer on. The project builds for baseline x86-64 so the binary runs
 * anywhere; without this, loops over every element of a tensor stay scalar.
 * Results are bit-identical across the clones: C11 mode keeps FP
 * contraction off, and the loops it marks use no reassociation. Off for
 * clang (the fuzz build) and under ASan, where it is a plain function. */
#ifndef SF_VECTOR_CLONES_H
#define SF_VECTOR_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define SF_VECTOR_CLONES                                                               \
    __attribute__((target_clones("arch=skylake-avx512", "avx2", "default"),            \
                   optimize("tree-vectorize")))
#else
#define SF_VECTOR_CLONES
#endif

#endif
