/* Category dictionaries of text columns and their merge across ranks.
 *
 * Local: an open-addressing hash table (FNV-1a, linear probing, load <= 1/2) over an
 * arena of NUL-terminated strings, each with the line of its first occurrence. It
 * keeps at most max_categories + 1 entries so a column of IDs cannot exhaust memory.
 * Global: every rank packs its entries, MPI_Allgatherv, then each rank sorts all of
 * them by (strcmp, line) and keeps the first of each value: the same sorted table on
 * every rank, for any rank count. When there are more than max_categories values the
 * error position is the first occurrence of the (max+1)-th distinct value in file
 * order; capping each rank's dictionary at max+1 entries provably keeps that position
 * exact (every value first seen before it is among its rank's first max+1 values).
 * Cost: O(total entries log total entries) per rank. */
#include <stdlib.h>
#include <string.h>

#include "io/csv_internal.h"

void csv_dict_init(csv_dict *d, int limit) {
  memset(d, 0, sizeof *d);
  d->limit = limit;
}

void csv_dict_free(csv_dict *d) {
  free(d->arena);
  free(d->off);
  free(d->line);
  free(d->slots);
  memset(d, 0, sizeof *d);
}

static uint64_t fnv1a(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static int rehash(csv_dict *d, int nslots) {
  int *slots = malloc((size_t)nslots * sizeof *slots);
  if (!slots) return -1;
  for (int i = 0; i < nslots; i++) slots[i] = -1;
  for (int e = 0; e < d->n; e++) {
    const char *s = d->arena + d->off[e];
    uint64_t h = fnv1a(s, strlen(s)) & (uint64_t)(nslots - 1);
    while (slots[h] >= 0) h = (h + 1) & (uint64_t)(nslots - 1);
    slots[h] = e;
  }
  free(d->slots);
  d->slots = slots;
  d->nslots = nslots;
  return 0;
}

int csv_dict_put(csv_dict *d, const char *s, size_t len, int64_t line) {
  if (d->nslots == 0 && rehash(d, 64) != 0) return -2;
  uint64_t mask = (uint64_t)(d->nslots - 1);
  uint64_t h = fnv1a(s, len) & mask;
  while (d->slots[h] >= 0) {
    int e = d->slots[h];
    const char *t = d->arena + d->off[e];
    /* Length first: a shorter stored string must not be read past its end. */
    if (strnlen(t, len + 1) == len && memcmp(t, s, len) == 0) return e;
    h = (h + 1) & mask;
  }
  if (d->n >= d->limit) {
    d->full = 1;
    return -1;
  }
  if (d->n == d->cap) {
    int cap = d->cap ? d->cap * 2 : 16;
    size_t *off = realloc(d->off, (size_t)cap * sizeof *off);
    if (!off) return -2;
    d->off = off;
    int64_t *ln = realloc(d->line, (size_t)cap * sizeof *ln);
    if (!ln) return -2;
    d->line = ln;
    d->cap = cap;
  }
  if (d->arena_len + len + 1 > d->arena_cap) {
    size_t cap = d->arena_cap ? d->arena_cap : 256;
    while (cap < d->arena_len + len + 1) cap *= 2;
    char *a = realloc(d->arena, cap);
    if (!a) return -2;
    d->arena = a;
    d->arena_cap = cap;
  }
  memcpy(d->arena + d->arena_len, s, len);
  d->arena[d->arena_len + len] = '\0';
  int e = d->n++;
  d->off[e] = d->arena_len;
  d->line[e] = line;
  d->arena_len += len + 1;
  d->slots[h] = e;
  if (d->n * 2 >= d->nslots && rehash(d, d->nslots * 2) != 0) return -2;
  return e;
}

void csv_cats_free(csv_cats *c) {
  if (!c) return;
  for (int i = 0; i < c->n; i++) free(c->cat[i]);
  free(c->cat);
  free(c->over_value);
  memset(c, 0, sizeof *c);
}

typedef struct entry {
  const char *s;
  int64_t line;
} entry;

static int by_value_line(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->s, y->s);
  if (c) return c;
  return (x->line > y->line) - (x->line < y->line);
}

static int by_line(const void *a, const void *b) {
  const entry *x = a, *y = b;
  return (x->line > y->line) - (x->line < y->line);
}

static void put_i64(char **p, int64_t v) {
  memcpy(*p, &v, sizeof v);
  *p += sizeof v;
}

static int64_t get_i64(const char **p) {
  int64_t v;
  memcpy(&v, *p, sizeof v);
  *p += sizeof v;
  return v;
}

bfcr_status csv_dict_merge(bfcr_ctx *ctx, int ncol, const csv_dict *dicts, int max_categories,
                           csv_cats *out) {
  bfcr_status st = BFCR_OK;
  char *send = NULL, *recv = NULL;
  int *counts = NULL, *displs = NULL;
  entry *all = NULL;
  const char **cursor = NULL;
  /* Pack: per column, count then (line, length, bytes) per entry. */
  size_t bytes = 0;
  for (int c = 0; c < ncol; c++) {
    bytes += sizeof(int64_t);
    for (int e = 0; e < dicts[c].n; e++)
      bytes += 2 * sizeof(int64_t) + strlen(csv_dict_str(&dicts[c], e));
  }
  int local_ok = bytes <= (size_t)1 << 30;
  int all_ok = 0;
  if (MPI_Allreduce(&local_ok, &all_ok, 1, MPI_INT, MPI_MIN, ctx->comm) != MPI_SUCCESS)
    return bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allreduce failed merging categories");
  if (!all_ok) return bfcr_err(ctx, BFCR_ERR_NOMEM, "category tables exceed 1 GiB on a rank");
  send = malloc(bytes ? bytes : 1);
  int ok = send != NULL;
  if (ok) {
    char *p = send;
    for (int c = 0; c < ncol; c++) {
      put_i64(&p, dicts[c].n);
      for (int e = 0; e < dicts[c].n; e++) {
        const char *s = csv_dict_str(&dicts[c], e);
        int64_t len = (int64_t)strlen(s);
        put_i64(&p, dicts[c].line[e]);
        put_i64(&p, len);
        memcpy(p, s, (size_t)len);
        p += len;
      }
    }
  }
  int mine = ok ? (int)bytes : 0;
  counts = calloc((size_t)ctx->size, sizeof *counts);
  displs = calloc((size_t)ctx->size, sizeof *displs);
  if (!counts || !displs) ok = 0;
  int all_alloc = 0;
  if (MPI_Allreduce(&ok, &all_alloc, 1, MPI_INT, MPI_MIN, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allreduce failed merging categories");
    goto cleanup;
  }
  if (!all_alloc) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging categories");
    goto cleanup;
  }
  if (MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allgather failed merging categories");
    goto cleanup;
  }
  int64_t total = 0;
  for (int r = 0; r < ctx->size; r++) {
    displs[r] = (int)total;
    total += counts[r];
  }
  if (total > INT32_MAX) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "category tables exceed 2 GiB in all");
    goto cleanup;
  }
  recv = malloc(total ? (size_t)total : 1);
  ok = recv != NULL;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, ctx->comm);
  if (!ok) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging categories");
    goto cleanup;
  }
  if (MPI_Allgatherv(send, mine, MPI_CHAR, recv, counts, displs, MPI_CHAR, ctx->comm) !=
      MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allgatherv failed merging categories");
    goto cleanup;
  }
  /* From here on every rank computes the same thing from the same bytes. Strings are
   * copied out with NUL terminators into per-column arrays. */
  cursor = calloc((size_t)ctx->size, sizeof *cursor);
  if (!cursor) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging categories");
    goto cleanup;
  }
  for (int r = 0; r < ctx->size; r++) cursor[r] = recv + displs[r];
  for (int c = 0; c < ncol && st == BFCR_OK; c++) {
    int64_t m = 0;
    /* Count this column's entries over all ranks. */
    for (int r = 0; r < ctx->size; r++) {
      int64_t k;
      memcpy(&k, cursor[r], sizeof k);
      m += k;
    }
    free(all);
    all = calloc((size_t)(m ? m : 1), sizeof *all);
    char *strs = NULL;
    size_t strbytes = 0;
    for (int r = 0; r < ctx->size; r++) {
      const char *p = cursor[r];
      int64_t k = get_i64(&p);
      for (int64_t e = 0; e < k; e++) {
        get_i64(&p);
        int64_t len = get_i64(&p);
        p += len;
        strbytes += (size_t)len + 1;
      }
    }
    strs = malloc(strbytes ? strbytes : 1);
    if (!all || !strs) {
      free(strs);
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging categories");
      break;
    }
    size_t so = 0;
    int64_t at = 0;
    for (int r = 0; r < ctx->size; r++) {
      const char *p = cursor[r];
      int64_t k = get_i64(&p);
      for (int64_t e = 0; e < k; e++) {
        int64_t line = get_i64(&p);
        int64_t len = get_i64(&p);
        memcpy(strs + so, p, (size_t)len);
        strs[so + (size_t)len] = '\0';
        all[at].s = strs + so;
        all[at].line = line;
        at++;
        so += (size_t)len + 1;
        p += len;
      }
      cursor[r] = p;
    }
    qsort(all, (size_t)m, sizeof *all, by_value_line);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++)
      if (u == 0 || strcmp(all[u - 1].s, all[i].s) != 0) all[u++] = all[i];
    csv_cats *o = &out[c];
    if (u > max_categories) {
      qsort(all, (size_t)u, sizeof *all, by_line);
      o->over_line = all[max_categories].line;
      o->over_value = malloc(strlen(all[max_categories].s) + 1);
      if (o->over_value)
        strcpy(o->over_value, all[max_categories].s);
      else
        st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging categories");
    } else {
      o->cat = calloc((size_t)(u ? u : 1), sizeof *o->cat);
      if (!o->cat) st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging categories");
      for (int64_t i = 0; i < u && st == BFCR_OK; i++) {
        o->cat[i] = malloc(strlen(all[i].s) + 1);
        if (!o->cat[i]) {
          st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging categories");
          break;
        }
        strcpy(o->cat[i], all[i].s);
        o->n++;
      }
    }
    free(strs);
  }
cleanup:
  free(cursor);
  free(all);
  free(send);
  free(recv);
  free(counts);
  free(displs);
  return st;
}
