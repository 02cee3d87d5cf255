/* What other ops may rely on about matmul's CPU kernel. */
#ifndef SF_MATMUL_H
#define SF_MATMUL_H

/* matmul computes its rows in tiles of this many, from row 0 of A (the
 * last tile may be shorter), each tile with the same BLAS calls whatever
 * else the product holds. So a product over rows [t * TILE, (t + 1) * TILE)
 * of A gives those rows exactly the bytes the product over all of A gives
 * them: lm_head_redistribute relies on it to equal the unfused lm_head. */
#define SF_MATMUL_TILE_ROWS 512

#endif
