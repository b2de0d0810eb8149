/* Cluster and metric charts through gnuplot (see plot.h). gnuplot is run on a script
 * file (not a pipe), so a missing gnuplot cannot kill the app with SIGPIPE; every
 * string that reaches the script (paths, column names) is single-quoted with gnuplot's
 * '' escape and the terminal is `noenhanced`, so names such as median_house_value are
 * printed as written. */
#include "plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* A temporary file under $TMPDIR (or /tmp), opened for writing; *path malloc'ed. */
static FILE *temp_file(char **path, char *err, size_t errlen) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !dir[0]) dir = "/tmp";
  size_t len = strlen(dir) + 32;
  *path = malloc(len);
  if (!*path) {
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  snprintf(*path, len, "%s/bfcr-plot-XXXXXX", dir);
  int fd = mkstemp(*path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    set_err(err, errlen, "cannot create a temporary file in %s for gnuplot", dir);
    if (fd >= 0) {
      close(fd);
      unlink(*path);
    }
    free(*path);
    *path = NULL;
  }
  return f;
}

static void drop_temp(char **path) {
  if (*path) unlink(*path);
  free(*path);
  *path = NULL;
}

/* A gnuplot single-quoted string (newlines become spaces). */
static void gp_str(FILE *f, const char *s) {
  fputc('\'', f);
  for (; s && *s; s++) {
    if (*s == '\'')
      fputs("''", f);
    else if (*s == '\n' || *s == '\r')
      fputc(' ', f);
    else
      fputc(*s, f);
  }
  fputc('\'', f);
}

static void num(FILE *f, double x) {
  if (isfinite(x))
    fprintf(f, " %.17g", x);
  else
    fputs(" NaN", f);
}

/* Run gnuplot on the script; returns 0 or -1 with a message. */
static int run_gnuplot(const char *script, char *err, size_t errlen) {
  size_t len = 16 + 4 * strlen(script);
  char *cmd = malloc(len);
  if (!cmd) {
    set_err(err, errlen, "out of memory");
    return -1;
  }
  /* Single-quote the path for sh: ' becomes '\''. */
  size_t k = (size_t)snprintf(cmd, len, "gnuplot '");
  for (const char *p = script; *p; p++) {
    if (*p == '\'') {
      memcpy(cmd + k, "'\\''", 4);
      k += 4;
    } else {
      cmd[k++] = *p;
    }
  }
  cmd[k++] = '\'';
  cmd[k] = '\0';
  fflush(stdout);
  fflush(stderr);
  int status = system(cmd);
  free(cmd);
  if (status == -1) {
    set_err(err, errlen, "cannot start a shell to run gnuplot");
    return -1;
  }
  if (!WIFEXITED(status)) {
    set_err(err, errlen, "gnuplot was killed by a signal");
    return -1;
  }
  if (WEXITSTATUS(status) == 127) {
    set_err(err, errlen, "gnuplot was not found (Debian: apt-get install gnuplot-nox)");
    return -1;
  }
  if (WEXITSTATUS(status) != 0) {
    set_err(err, errlen, "gnuplot failed with exit code %d (its message is above)",
            WEXITSTATUS(status));
    return -1;
  }
  return 0;
}

/* Shared driver: the data and script are written by the two callbacks into temporary
 * files; gnuplot draws into a temporary PNG beside the target, renamed on success. */
typedef void (*data_fn)(FILE *f, const void *user);
typedef void (*script_fn)(FILE *f, const void *user, const char *data, const char *out);

static int draw(const char *png, data_fn write_data, script_fn write_script, const void *user,
                char *err, size_t errlen) {
  char *data = NULL, *script = NULL;
  app_atomic out = {0};
  int rc = -1;
  FILE *fd = temp_file(&data, err, errlen);
  if (!fd) goto done;
  write_data(fd, user);
  if (fclose(fd) != 0) {
    set_err(err, errlen, "cannot write the temporary data file %s", data);
    goto done;
  }
  if (app_atomic_open(&out, png, err, errlen) != 0) goto done;
  FILE *fs = temp_file(&script, err, errlen);
  if (!fs) goto done;
  write_script(fs, user, data, out.tmp);
  if (fclose(fs) != 0) {
    set_err(err, errlen, "cannot write the temporary gnuplot script %s", script);
    goto done;
  }
  if (run_gnuplot(script, err, errlen) != 0) goto done;
  if (app_atomic_commit(&out, err, errlen) != 0) goto done;
  rc = 0;
done:
  app_atomic_abort(&out);
  drop_temp(&script);
  drop_temp(&data);
  return rc;
}

static void terminal(FILE *f, const char *out, int w, int h) {
  fprintf(f, "set terminal pngcairo size %d,%d noenhanced font 'Sans,10'\nset output ", w, h);
  gp_str(f, out);
  fputc('\n', f);
}

/* ---- cluster scatter ---- */

static void scatter_data(FILE *f, const void *user) {
  const app_plot_scatter *s = user;
  /* Golden-ratio hues: consecutive cluster ids land far apart on the colour wheel. */
  for (int64_t i = 0; i < s->n; i++) {
    num(f, s->xy[2 * i]);
    num(f, s->xy[2 * i + 1]);
    num(f, fmod((double)s->label[i] * 0.6180339887498949, 1.0));
    fputc('\n', f);
  }
  fputs("\n\n", f);
  for (int64_t c = 0; c < s->k; c++) {
    num(f, s->cxy[2 * c]);
    num(f, s->cxy[2 * c + 1]);
    fprintf(f, " %lld\n", (long long)c);
  }
}

static void scatter_script(FILE *f, const void *user, const char *data, const char *out) {
  const app_plot_scatter *s = user;
  terminal(f, out, 1000, 800);
  fputs("set title ", f);
  gp_str(f, s->title);
  fputs("\nset xlabel ", f);
  gp_str(f, s->xname);
  fputs("\nset ylabel ", f);
  gp_str(f, s->yname);
  fputs(
      "\nset palette model HSV functions gray * 0.95, 0.8, 0.85\n"
      "set cbrange [0:1]\nunset colorbox\nset key outside bottom center horizontal\n"
      "set grid lc rgb '#dddddd'\n",
      f);
  double ps = s->n <= 5000 ? 0.7 : s->n <= 50000 ? 0.35 : 0.2;
  fputs("plot ", f);
  gp_str(f, data);
  fprintf(f, " index 0 using 1:2:3 with points pt 7 ps %.2f lc palette z title '%lld rows', \\\n  ",
          ps, (long long)s->n);
  gp_str(f, data);
  fprintf(f,
          " index 1 using 1:2 with points pt 2 ps %.1f lw 2.5 lc rgb 'black' "
          "title '%lld centroids'\nunset output\n",
          s->k <= 100 ? 2.2 : 1.2, (long long)s->k);
}

int app_plot_clusters(const char *png, const app_plot_scatter *s, char *err, size_t errlen) {
  return draw(png, scatter_data, scatter_script, s, err, errlen);
}

/* ---- metrics against the level ---- */

typedef struct metrics_user {
  const bfcr_level_info *lv;
  int n, chosen;
  const char *how, *title;
  const double *ami;
} metrics_user;

static double metric_col(const metrics_user *m, int l, int col) {
  const bfcr_level_info *v = &m->lv[l];
  switch (col) {
    case 2:
      return (double)v->clusters;
    case 3:
      return v->hci;
    case 4:
      return v->ch;
    case 5:
      return v->db;
    case 6:
      return v->bic;
    case 7:
      return m->ami ? m->ami[2 * l] : NAN;
    case 8:
      return m->ami ? m->ami[2 * l + 1] : NAN;
    default:
      return NAN;
  }
}

static void metrics_data(FILE *f, const void *user) {
  const metrics_user *m = user;
  for (int l = 1; l < m->n; l++) {
    fprintf(f, "%d", m->lv[l].level);
    for (int c = 2; c <= 8; c++) num(f, metric_col(m, l, c));
    fputc('\n', f);
  }
}

/* Finite values of column col over levels 1..n-1: count, min and max. */
static int col_range(const metrics_user *m, int col, double *lo, double *hi) {
  int cnt = 0;
  for (int l = 1; l < m->n; l++) {
    double v = metric_col(m, l, col);
    if (!isfinite(v)) continue;
    if (cnt == 0 || v < *lo) *lo = v;
    if (cnt == 0 || v > *hi) *hi = v;
    cnt++;
  }
  return cnt;
}

static void panel(FILE *f, const metrics_user *m, const char *data, int col, const char *title,
                  const char *color, int log_ok) {
  double lo = 0, hi = 0;
  if (col_range(m, col, &lo, &hi) == 0) {
    fputs("set multiplot next\n", f); /* nothing to draw: leave the slot empty */
    return;
  }
  fputs("set title ", f);
  gp_str(f, title);
  fputc('\n', f);
  if (log_ok && lo > 0 && hi / lo > 100)
    fputs("set logscale y\n", f);
  else
    fputs("unset logscale y\n", f);
  fputs("plot ", f);
  gp_str(f, data);
  fprintf(f, " using 1:%d with linespoints pt 7 ps 1 lw 2 lc rgb '%s' notitle\n", col, color);
}

static void metrics_script(FILE *f, const void *user, const char *data, const char *out) {
  const metrics_user *m = user;
  int top = m->n - 1;
  terminal(f, out, 1200, 760);
  fputs("set datafile missing 'NaN'\nset grid lc rgb '#dddddd'\nset xlabel 'level'\n", f);
  fprintf(f, "set xrange [0.5:%d.5]\n", top);
  if (top <= 30) fputs("set xtics 1\n", f);
  if (m->chosen >= 1 && m->chosen <= top)
    fprintf(f, "set arrow 1 from %d, graph 0 to %d, graph 1 nohead dt 2 lw 2 lc rgb 'red'\n",
            m->chosen, m->chosen);
  char head[512];
  snprintf(head, sizeof head, "%s: chosen level %d (%s), dashed", m->title, m->chosen, m->how);
  fputs("set multiplot layout 2,3 title ", f);
  gp_str(f, head);
  fputc('\n', f);
  panel(f, m, data, 3, "HCI (paper; higher is better)", "#1f77b4", 0);
  panel(f, m, data, 4, "Calinski-Harabasz (higher is better)", "#2ca02c", 1);
  panel(f, m, data, 5, "Davies-Bouldin, RMS scatter (lower is better)", "#ff7f0e", 1);
  panel(f, m, data, 6, "BIC (lower is better)", "#9467bd", 0);
  panel(f, m, data, 2, "clusters", "#555555", 1);
  if (m->ami) {
    double lo = 0, hi = 0;
    if (col_range(m, 7, &lo, &hi) > 0) {
      fputs("set title 'AMI against the truth'\nunset logscale y\nset key top left\nplot ", f);
      gp_str(f, data);
      fputs(" using 1:7 with linespoints pt 7 lw 2 lc rgb '#d62728' title 'arithmetic', \\\n  ", f);
      gp_str(f, data);
      fputs(" using 1:8 with linespoints pt 5 lw 2 dt 2 lc rgb '#8c564b' title 'max'\n", f);
    }
  }
  fputs("unset multiplot\nunset output\n", f);
}

int app_plot_metrics(const char *png, const bfcr_level_info *lv, int n, int chosen,
                     const char *how_chosen, const double *ami, const char *title, char *err,
                     size_t errlen) {
  if (n < 2) {
    set_err(err, errlen, "no level above the samples to plot");
    return -1;
  }
  metrics_user m = {lv, n, chosen, how_chosen, title, ami};
  return draw(png, metrics_data, metrics_script, &m, err, errlen);
}

char *app_plot_metrics_path(const char *png) {
  size_t len = strlen(png);
  size_t stem = len >= 4 && strcmp(png + len - 4, ".png") == 0 ? len - 4 : len;
  char *p = malloc(stem + 16);
  if (p) snprintf(p, stem + 16, "%.*s-metrics.png", (int)stem, png);
  return p;
}
