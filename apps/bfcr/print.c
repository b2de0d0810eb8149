/* Level and phase tables for the terminal and for JSON run records. */
#include "print.h"
#include "traffic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <mpi.h>

static bfcr_status levels_of(const bfcr_tree *tree, const bfcr_model *model, bfcr_level_info **out,
                             int *n) {
  *out = NULL;
  *n = tree ? bfcr_tree_num_levels(tree) : bfcr_model_num_levels(model);
  if (*n <= 0) return BFCR_OK;
  bfcr_level_info *lv = calloc((size_t)*n, sizeof *lv);
  if (!lv) return BFCR_ERR_NOMEM;
  for (int l = 0; l < *n; l++) {
    bfcr_status st =
        tree ? bfcr_tree_level_info(tree, l, &lv[l]) : bfcr_model_level_info(model, l, &lv[l]);
    if (st != BFCR_OK) {
      free(lv);
      return st;
    }
  }
  *out = lv;
  return BFCR_OK;
}

bfcr_status app_levels_of_tree(const bfcr_tree *tree, bfcr_level_info **out, int *n) {
  return levels_of(tree, NULL, out, n);
}

bfcr_status app_levels_of_model(const bfcr_model *model, bfcr_level_info **out, int *n) {
  return levels_of(NULL, model, out, n);
}

static void metric(FILE *f, double x, int width) {
  if (isfinite(x))
    fprintf(f, " %*.*g", width, width - 6, x);
  else
    fprintf(f, " %*s", width, "-");
}

void print_level_table(FILE *f, const bfcr_level_info *lv, int n, int mark) {
  fprintf(f, "  %5s %10s %9s %9s %10s %10s %10s %10s %10s %12s\n", "level", "clusters", "min_size",
          "max_size", "HCI", "CH", "DB", "BIC", "GCV", "within_SS");
  for (int l = 0; l < n; l++) {
    fprintf(f, "%c %5d %10lld %9lld %9lld", lv[l].level == mark ? '*' : ' ', lv[l].level,
            (long long)lv[l].clusters, (long long)lv[l].min_size, (long long)lv[l].max_size);
    metric(f, lv[l].hci, 10);
    metric(f, lv[l].ch, 10);
    if (lv[l].skipped & BFCR_METRIC_DB)
      fprintf(f, " %10s", "skipped");
    else
      metric(f, lv[l].db, 10);
    metric(f, lv[l].bic, 10);
    metric(f, lv[l].gcv, 10);
    metric(f, lv[l].within_ss, 12);
    fputc('\n', f);
  }
}

void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
      case '"':
        fputs("\\\"", f);
        break;
      case '\\':
        fputs("\\\\", f);
        break;
      case '\n':
        fputs("\\n", f);
        break;
      case '\r':
        fputs("\\r", f);
        break;
      case '\t':
        fputs("\\t", f);
        break;
      default:
        if (*p < 0x20)
          fprintf(f, "\\u%04x", *p);
        else
          fputc(*p, f);
    }
  }
  fputc('"', f);
}

void json_num(FILE *f, double x) {
  if (isfinite(x))
    fprintf(f, "%.17g", x);
  else
    fputs("null", f);
}

void json_field(FILE *f, const char *key, double x) {
  fprintf(f, ",\"%s\":", key);
  json_num(f, x);
}

void print_levels_json(FILE *f, const bfcr_level_info *lv, int n) {
  fputc('[', f);
  for (int l = 0; l < n; l++) {
    fprintf(f, "%s{\"level\":%d,\"clusters\":%lld,\"min_size\":%lld,\"max_size\":%lld,",
            l ? "," : "", lv[l].level, (long long)lv[l].clusters, (long long)lv[l].min_size,
            (long long)lv[l].max_size);
    fputs("\"hci\":", f);
    json_num(f, lv[l].hci);
    json_field(f, "ch", lv[l].ch);
    json_field(f, "db", lv[l].db);
    json_field(f, "bic", lv[l].bic);
    json_field(f, "gcv", lv[l].gcv);
    json_field(f, "within_ss", lv[l].within_ss);
    if (lv[l].skipped & BFCR_METRIC_DB) fputs(",\"db_skipped\":true", f);
    fputc('}', f);
  }
  fputc(']', f);
}

void app_phases_free(app_phases *ph) {
  free(ph->name);
  free(ph->seconds);
  free(ph->seconds_min);
  free(ph->flops);
  free(ph->est);
  memset(ph, 0, sizeof *ph);
}

int app_phases_gather(app *a, app_phases *ph) {
  memset(ph, 0, sizeof *ph);
  double sent = app_traffic_bytes() / 1e6; /* before this gather adds its own */
  int n = bfcr_ctx_num_phases(a->ctx);
  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
  size_t m = n > 0 ? (size_t)n : 1;
  ph->name = calloc(m, sizeof *ph->name);
  double *sec = calloc(2 * m, sizeof *sec);
  ph->seconds = calloc(m, sizeof *ph->seconds);
  ph->seconds_min = calloc(m, sizeof *ph->seconds_min);
  ph->flops = calloc(m, sizeof *ph->flops);
  ph->est = calloc(m, sizeof *ph->est);
  int ok = app_all_ok(ph->name && sec && ph->seconds && ph->seconds_min && ph->flops && ph->est);
  if (!ok) {
    free(sec);
    app_phases_free(ph);
    return app_fail(a, BFCR_ERR_NOMEM, "out of memory collecting phase timers");
  }
  ph->n = n;
  if (a->rank == 0)
    for (int i = 0; i < n; i++)
      snprintf(ph->name[i], sizeof ph->name[i], "%s", bfcr_ctx_phase_name(a->ctx, i));
  if (n > 0) MPI_Bcast(ph->name, 64 * n, MPI_CHAR, 0, MPI_COMM_WORLD);
  /* Phases are matched by name: a rank may have run them in another order. */
  double *flops = sec + m;
  int mine = bfcr_ctx_num_phases(a->ctx);
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < mine; j++) {
      const char *nm = bfcr_ctx_phase_name(a->ctx, j);
      if (nm && strncmp(nm, ph->name[i], 63) == 0) {
        sec[i] = bfcr_ctx_phase_seconds(a->ctx, j);
        flops[i] = bfcr_ctx_phase_flops(a->ctx, j);
        ph->est[i] = bfcr_ctx_phase_flops_estimated(a->ctx, j);
        break;
      }
    }
  }
  if (n > 0) {
    MPI_Reduce(sec, ph->seconds, n, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(sec, ph->seconds_min, n, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Reduce(flops, ph->flops, n, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  }
  free(sec);
  struct rusage ru;
  double rss = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0.0;
  MPI_Reduce(&rss, &ph->rss_max_mb, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  MPI_Reduce(&rss, &ph->rss_min_mb, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
  MPI_Reduce(&sent, &ph->sent_max_mb, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  MPI_Reduce(&sent, &ph->sent_min_mb, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
  MPI_Reduce(&sent, &ph->sent_total_mb, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  return APP_EXIT_OK;
}

void print_phase_table(FILE *f, const app_phases *ph, double wall) {
  fprintf(f, "  %-24s %10s %7s %10s %10s\n", "phase", "seconds", "share", "GFLOP/s", "min rank");
  double total = 0;
  for (int i = 0; i < ph->n; i++) total += ph->seconds[i];
  for (int i = 0; i < ph->n; i++) {
    fprintf(f, "  %-24s %10.4f %6.1f%%", ph->name[i], ph->seconds[i],
            wall > 0 ? 100.0 * ph->seconds[i] / wall : 0.0);
    if (ph->flops[i] > 0 && ph->seconds[i] > 0) {
      char rate[32];
      snprintf(rate, sizeof rate, "%s%.3f", ph->est[i] ? "~" : "",
               ph->flops[i] / ph->seconds[i] * 1e-9);
      fprintf(f, " %10s", rate);
    } else
      fprintf(f, " %10s", "-");
    fprintf(f, " %10.4f\n", ph->seconds_min[i]);
  }
  for (int i = 0; i < ph->n; i++)
    if (ph->est[i] && ph->flops[i] > 0) {
      fprintf(f,
              "  (~ rate from an estimated flop count: LAPACK eigensolver work, see "
              "docs/regression.md)\n");
      break;
    }
  fprintf(f, "  %-24s %10.4f\n", "sum of phases", total);
  fprintf(f, "  %-24s %10.4f\n", "wall (whole run)", wall);
  fprintf(f, "  %-24s %10.1f MB (min rank %.1f MB)\n", "peak memory per rank", ph->rss_max_mb,
          ph->rss_min_mb);
  fprintf(f, "  %-24s %10.1f MB (min rank %.1f MB, all ranks %.1f MB)\n", "sent per rank",
          ph->sent_max_mb, ph->sent_min_mb, ph->sent_total_mb);
}

void print_phases_json(FILE *f, const app_phases *ph) {
  fputc('[', f);
  for (int i = 0; i < ph->n; i++) {
    fputs(i ? ",{\"name\":" : "{\"name\":", f);
    json_str(f, ph->name[i]);
    json_field(f, "seconds", ph->seconds[i]);
    json_field(f, "seconds_min", ph->seconds_min[i]);
    json_field(f, "flops", ph->flops[i]);
    fprintf(f, ",\"flops_estimated\":%s", ph->est[i] ? "true" : "false");
    fputc('}', f);
  }
  fputc(']', f);
}

void print_cv_table(FILE *f, const bfcr_model *m, int nlevels, int chosen) {
  int best = -1;
  int folds = bfcr_model_cv(m, 0, NULL, NULL, &best);
  fprintf(f,
          "\ncross-validation (%d folds; held-out rows routed to their nearest training row "
          "outside the fold):\n",
          folds);
  fprintf(f, "%6s %10s %14s %12s  %s\n", "level", "clusters", "CV RMSE", "SE", "");
  for (int l = 1; l < nlevels; l++) {
    double r, se;
    bfcr_level_info li;
    bfcr_model_cv(m, l, &r, &se, NULL);
    bfcr_model_level_info(m, l, &li);
    fprintf(f, "%6d %10lld %14.6g %12.4g  %s%s\n", l, (long long)li.clusters, r, se,
            l == chosen ? "chosen" : "", l == best && l != chosen ? "lowest" : "");
  }
  print_shrink_table(f, m, nlevels, chosen);
  print_small_cv_table(f, m, nlevels);
  print_kernel_cv_table(f, m, nlevels, chosen);
}

void print_small_cv_table(FILE *f, const bfcr_model *m, int nlevels) {
  double pr = NAN;
  int pick = bfcr_model_cv_small(m, 0, &pr, NULL, NULL, NULL);
  if (pick == -1) return;
  if (pick == -2) {
    fprintf(f,
            "\nsmall-cluster policy: shrink candidates skipped (rows x folds over the "
            "budget): ancestor\n");
    return;
  }
  fprintf(f,
          "\nsmall-cluster policy candidates (shrink toward the parent's model, min size 2, "
          "hard routing, same folds and routing; replace the ancestor pick, CV RMSE %.6g, "
          "only when dMSE < -SE):\n%6s %12s %14s %12s %12s  %s\n",
          pr, "level", "lambda", "CV RMSE", "dMSE vs pick", "SE of dMSE", "");
  if (pick == -3)
    fprintf(f,
            "(the best passing candidate was overturned by the honest check, a tree per "
            "fold: ancestor kept)\n");
  for (int l = 1; l < nlevels; l++) {
    double r, dm, ds, lam;
    bfcr_model_cv_small(m, l, &r, &dm, &ds, &lam);
    if (isnan(r)) continue;
    fprintf(f, "%6d %12.4g %14.6g %12.4g %12.4g  %s\n", l, lam, r, dm, ds,
            l == pick  ? "chosen"
            : dm < -ds ? "passes"
                       : "");
  }
}

void print_kernel_cv_table(FILE *f, const bfcr_model *m, int nlevels, int chosen) {
  if (bfcr_model_cv_kernel(m, 0, NULL, NULL, NULL, NULL) < 0) return;
  int krr = bfcr_model_params(m)->regressor == BFCR_REG_KRR;
  double fixed = NAN;
  bfcr_model_cv_kernel(m, 0, NULL, NULL, NULL, &fixed);
  fprintf(f,
          "\nkernel ridge candidates (refitted per fold, same folds and routing; may replace "
          "the ridge pick when dMSE < -SE; estimated cost per level, plus %.3g s once):\n"
          "%6s %12s %14s %12s %12s  %s\n",
          fixed, "level", "est. cost s", "CV RMSE", "dMSE vs pick", "SE of dMSE", "");
  for (int l = 1; l < nlevels; l++) {
    double r, dm, ds, c;
    int s = bfcr_model_cv_kernel(m, l, &r, &dm, &ds, &c);
    if (s == 3) {
      fprintf(f, "%6d %12s %14s %12s %12s  %s\n", l, "-", "-", "-", "-",
              "skipped: no cluster large enough");
      continue;
    }
    if (s == 2) {
      fprintf(f, "%6d %12.3g %14s %12s %12s  %s\n", l, c, "-", "-", "-",
              "skipped: over the kernel budget");
      continue;
    }
    fprintf(f, "%6d %12.3g %14.6g %12.4g %12.4g  %s\n", l, c, r, dm, ds,
            krr && l == chosen ? "chosen"
            : dm < -ds         ? "passes"
                               : "");
  }
}

void print_shrink_table(FILE *f, const bfcr_model *m, int nlevels, int chosen) {
  double lam = 0.0;
  int ng = bfcr_model_shrink(m, &lam, 0, 0, NULL, NULL);
  if (ng == 0) {
    if (lam > 0) fprintf(f, "\nhierarchical shrinkage: lambda %g (fixed)\n", lam);
    return;
  }
  fprintf(f,
          "\nhierarchical shrinkage along the routed path (same folds; lambda 0 = hard "
          "routing):\n%12s %12s %14s %14s %12s %12s  %s\n",
          "lambda", "best level", "CV RMSE", "at chosen", "dMSE vs pick", "SE of dMSE", "");
  for (int g = 0; g < ng; g++) {
    double gl, r, br = INFINITY;
    int bl = -1;
    bfcr_model_shrink(m, NULL, g, 0, &gl, NULL);
    for (int l = nlevels - 1; l >= 1; l--) {
      bfcr_model_shrink(m, NULL, g, l, NULL, &r);
      if (r < br) {
        br = r;
        bl = l;
      }
    }
    double rc;
    bfcr_model_shrink(m, NULL, g, chosen, NULL, &rc);
    /* the one-SE decision at the lambda's best level: it may replace hard routing only
     * when dMSE < -SE (paired per-row differences against the pick) */
    double dm = NAN, ds = NAN;
    int has = g > 0 && bfcr_model_shrink_diff(m, g, bl, &dm, &ds) && !isnan(dm);
    char a[16] = "", b[16] = "";
    if (has) {
      snprintf(a, sizeof a, "%.4g", dm);
      if (!isnan(ds)) snprintf(b, sizeof b, "%.4g", ds);
    }
    fprintf(f, "%12g %12d %14.6g %14.6g %12s %12s  %s\n", gl, bl, br, rc, a, b,
            gl == lam         ? (lam > 0 ? "chosen" : "chosen (hard routing)")
            : has && dm < -ds ? "passes"
                              : "");
  }
}
