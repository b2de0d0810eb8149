/* Strict, locale-independent, correctly rounded decimal-to-double conversion for CSV
 * fields (see numparse.c for the grammar and the algorithm). */
#ifndef BFCR_IO_NUMPARSE_H
#define BFCR_IO_NUMPARSE_H

#include <stddef.h>

typedef enum bfcr_num_result {
  BFCR_NUM_OK = 0,        /* *out holds the correctly rounded value (finite) */
  BFCR_NUM_SYNTAX = 1,    /* not a decimal number of the accepted grammar */
  BFCR_NUM_NONFINITE = 2, /* an inf/infinity/nan spelling (any case, optional sign) */
  BFCR_NUM_OVERFLOW = 3   /* a valid decimal whose magnitude rounds beyond DBL_MAX */
} bfcr_num_result;

/* Parse exactly the len bytes at s (no NUL needed; nothing may follow the number).
 * Grammar: [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
 * Underflow rounds to the nearest subnormal or to a signed zero (accepted).
 * Thread-safe, allocation-free, no global state. */
bfcr_num_result bfcr_parse_double(const char *s, size_t len, double *out);

/* The longest number of the grammar at the start of [s, end) (for a fused tokenizer):
 * *stop = the byte after it. SYNTAX when none starts at s or its exponent is cut
 * ("1e"); the caller checks what follows. Never reports NONFINITE. */
bfcr_num_result bfcr_parse_double_prefix(const char *s, const char *end, double *out,
                                         const char **stop);

/* 1 when the result means "this field looks like a number" (OK, NONFINITE or
 * OVERFLOW): used to decide a column's kind. */
static inline int bfcr_num_is_numeric_like(bfcr_num_result r) {
  return r != BFCR_NUM_SYNTAX;
}

#endif
