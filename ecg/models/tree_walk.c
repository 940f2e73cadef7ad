/* Walks of gradient-boosted trees laid out by ecg.models.trees.packed (see tree_walk.py).
 *
 * Each tree's nodes are breadth first with a node's two children side by side: ``child[i]`` is the
 * left one, ``child[i] + 1`` the right; a leaf is its own child, with threshold +inf on feature 0.
 * ``raw`` (rows x n_outputs, row-major) holds the baseline on entry; each tree's leaf value is added
 * to its output column.
 */
#include <stdint.h>
#include <stdlib.h>

/* Rows without missing values: eight rows at once through each tree, never branching on the data.
 * A step is child[i] + (x > threshold[i]), repeated to the tree's depth (a walk past a leaf stays on
 * it), so the eight rows' loads overlap instead of waiting on mispredicted branches. The walk is bound
 * by its instructions, so each step is kept to the fewest: the eight rows are first interleaved
 * (feature f of row k at lanes[8 f + k], ``lane_offset`` = 8 x feature), so one pointer reaches all of
 * them and the row pointers do not spill, and indices are read as unsigned 32-bit values, which the
 * processor widens for free (a signed one costs an instruction per step). */
void walk(const float *x, int64_t n, int64_t n_features, const int32_t *feature, const int32_t *lane_offset,
          const float *threshold, const int32_t *child, const double *value, const int32_t *roots,
          const int32_t *depth, const int32_t *output, int64_t n_trees, int64_t n_outputs, double *raw)
{
    const uint32_t *next = (const uint32_t *)child, *offset = (const uint32_t *)lane_offset;
#define STEP(k) i##k = (uint64_t)next[i##k] + (lanes[(uint64_t)offset[i##k] + k] > threshold[i##k])
    int64_t whole = n - n % 8;
    float *lanes = whole ? malloc((size_t)(8 * n_features) * sizeof(float)) : NULL;
    if (whole && !lanes)
        whole = 0; /* no memory for eight interleaved rows: every row takes the one-row walk below */
    for (int64_t r = 0; r < whole; r += 8) {
        for (int64_t k = 0; k < 8; k++)
            for (int64_t f = 0; f < n_features; f++)
                lanes[8 * f + k] = x[(r + k) * n_features + f];
        double *o = raw + r * n_outputs;
        for (int64_t t = 0; t < n_trees; t++) {
            uint64_t i0 = (uint32_t)roots[t], i1 = i0, i2 = i0, i3 = i0, i4 = i0, i5 = i0, i6 = i0, i7 = i0;
            for (int32_t d = depth[t]; d > 0; d--) {
                STEP(0); STEP(1); STEP(2); STEP(3); STEP(4); STEP(5); STEP(6); STEP(7);
            }
            int32_t c = output[t];
            o[c] += value[i0];
            o[n_outputs + c] += value[i1];
            o[2 * n_outputs + c] += value[i2];
            o[3 * n_outputs + c] += value[i3];
            o[4 * n_outputs + c] += value[i4];
            o[5 * n_outputs + c] += value[i5];
            o[6 * n_outputs + c] += value[i6];
            o[7 * n_outputs + c] += value[i7];
        }
    }
    free(lanes);
#undef STEP
    for (int64_t r = whole; r < n; r++) {
        const float *x0 = x + r * n_features;
        for (int64_t t = 0; t < n_trees; t++) {
            int32_t i = roots[t];
            for (int32_t d = depth[t]; d > 0; d--)
                i = child[i] + (x0[feature[i]] > threshold[i]);
            raw[r * n_outputs + output[t]] += value[i];
        }
    }
}

/* Any rows: one row at a time, stopping at each leaf; a missing value (NaN) takes the node's learnt
 * branch (go_right_if_missing). */
void walk_with_missing(const float *x, int64_t n, int64_t n_features, const int32_t *feature,
                       const float *threshold, const int32_t *child, const uint8_t *go_right_if_missing,
                       const double *value, const int32_t *roots, const int32_t *output, int64_t n_trees,
                       int64_t n_outputs, double *raw)
{
    for (int64_t r = 0; r < n; r++) {
        const float *row = x + r * n_features;
        for (int64_t t = 0; t < n_trees; t++) {
            int32_t i = roots[t];
            while (child[i] != i) {
                float v = row[feature[i]];
                int right = (v != v) ? go_right_if_missing[i] : (v > threshold[i]);
                i = child[i] + right;
            }
            raw[r * n_outputs + output[t]] += value[i];
        }
    }
}
