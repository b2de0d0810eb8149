/* Table-driven option parser and help printer (see options.h). Accepted forms:
 * "--name value", "--name=value", "-o value", flags without a value, "--" to end the
 * options. Options and positional arguments may be interleaved; the last repetition
 * of an option wins. Every failure is one line naming the option. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

void app_usage_error(const app_cmd_spec *spec, int rank, const char *fmt, ...) {
  if (rank != 0) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "bfcr: error: %s: %s; see 'bfcr %s --help'\n", spec->name, msg, spec->name);
}

void app_list_free(app_list *l) {
  if (!l) return;
  free(l->items);
  free(l->buf);
  l->items = NULL;
  l->buf = NULL;
  l->n = 0;
}

const char *app_choice_name(const app_choice *choices, int value) {
  for (const app_choice *c = choices; c && c->name; c++)
    if (c->value == value) return c->name;
  return "?";
}

int app_seen(const app_cmd_spec *spec, const char *name) {
  for (int i = 0; i < spec->nopts; i++)
    if (strcmp(spec->opts[i].name, name) == 0) return spec->opts[i].seen;
  return 0;
}

static int has_value(const app_opt *o) {
  return o->kind != APP_OPT_FLAG && o->kind != APP_OPT_UNFLAG;
}

static int bounded(const app_opt *o) {
  return o->min != 0.0 || o->max != 0.0;
}

/* "hci|ch|db" into buf. */
static const char *choice_metavar(const app_opt *o, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (const app_choice *c = o->choices; c && c->name; c++) {
    int w = snprintf(buf + used, len - used, "%s%s", c == o->choices ? "" : "|", c->name);
    if (w < 0 || (size_t)w >= len - used) break;
    used += (size_t)w;
  }
  return buf;
}

static void format_bound(char *buf, size_t len, double v) {
  if (v == (double)(int64_t)v && fabs(v) < 1e15)
    snprintf(buf, len, "%lld", (long long)v);
  else
    snprintf(buf, len, "%g", v);
}

/* Bound check message: "an integer >= 0" etc. */
static void bound_text(const app_opt *o, const char *what, char *buf, size_t len) {
  char lo[32], hi[32];
  format_bound(lo, sizeof lo, o->min);
  format_bound(hi, sizeof hi, o->max);
  if (!bounded(o))
    snprintf(buf, len, "%s", what);
  else if (o->max >= 1e300)
    snprintf(buf, len, "%s >= %s", what, lo);
  else
    snprintf(buf, len, "%s in [%s, %s]", what, lo, hi);
}

static int in_bounds(const app_opt *o, double v) {
  return !bounded(o) || (v >= o->min && v <= o->max);
}

static int parse_list(app_list *l, const char *s) {
  app_list_free(l);
  size_t len = strlen(s);
  int n = 1;
  for (size_t i = 0; i < len; i++) n += s[i] == ',';
  l->buf = malloc(len + 1);
  l->items = malloc(((size_t)n + 1) * sizeof *l->items);
  if (!l->buf || !l->items) {
    app_list_free(l);
    return -1;
  }
  memcpy(l->buf, s, len + 1);
  l->n = 0;
  char *p = l->buf;
  for (;;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    if (*p == '\0') {
      app_list_free(l);
      return 1;
    }
    l->items[l->n++] = p;
    if (!comma) break;
    p = comma + 1;
  }
  l->items[l->n] = NULL;
  return 0;
}

/* Store the value of o; returns 0 or prints a usage error and returns nonzero. */
static int store(const app_cmd_spec *spec, app_opt *o, const char *shown, const char *v, int rank) {
  char expect[96];
  char *end = NULL;
  errno = 0;
  switch (o->kind) {
    case APP_OPT_FLAG:
      *(int *)o->dest = 1;
      return 0;
    case APP_OPT_UNFLAG:
      *(int *)o->dest = 0;
      return 0;
    case APP_OPT_STRING:
      if (*v == '\0') {
        app_usage_error(spec, rank, "option %s needs a non-empty %s", shown, o->metavar);
        return 1;
      }
      *(const char **)o->dest = v;
      return 0;
    case APP_OPT_LIST: {
      int rc = parse_list((app_list *)o->dest, v);
      if (rc < 0) {
        if (rank == 0) fprintf(stderr, "bfcr: error: out of memory\n");
        return 1;
      }
      if (rc > 0) {
        app_usage_error(spec, rank, "option %s expects comma-separated non-empty names, got '%s'",
                        shown, v);
        return 1;
      }
      return 0;
    }
    case APP_OPT_CHOICE:
      for (const app_choice *c = o->choices; c && c->name; c++) {
        if (strcmp(c->name, v) == 0) {
          *(int *)o->dest = c->value;
          return 0;
        }
      }
      {
        char names[160];
        app_usage_error(spec, rank, "option %s expects one of %s, got '%s'", shown,
                        choice_metavar(o, names, sizeof names), v);
      }
      return 1;
    case APP_OPT_LEVEL:
      if (strcmp(v, "top") == 0) {
        *(int *)o->dest = APP_LEVEL_TOP;
        return 0;
      }
      /* an integer level */
      /* fall through */
    case APP_OPT_INT:
    case APP_OPT_INT64: {
      long long x = strtoll(v, &end, 10);
      int ok = end != v && *end == '\0' && errno == 0 && in_bounds(o, (double)x);
      if (ok && o->kind != APP_OPT_INT64) ok = x >= INT_MIN && x <= INT_MAX;
      if (!ok) {
        bound_text(o, "an integer", expect, sizeof expect);
        app_usage_error(spec, rank, "option %s expects %s%s, got '%s'", shown, expect,
                        o->kind == APP_OPT_LEVEL ? " or 'top'" : "", v);
        return 1;
      }
      if (o->kind == APP_OPT_INT64)
        *(int64_t *)o->dest = (int64_t)x;
      else
        *(int *)o->dest = (int)x;
      return 0;
    }
    case APP_OPT_U64: {
      unsigned long long x = 0;
      int ok = v[0] >= '0' && v[0] <= '9';
      if (ok) x = strtoull(v, &end, 10);
      ok = ok && *end == '\0' && errno == 0;
      if (!ok) {
        app_usage_error(spec, rank, "option %s expects an integer in [0, 2^64), got '%s'", shown,
                        v);
        return 1;
      }
      *(uint64_t *)o->dest = (uint64_t)x;
      return 0;
    }
    case APP_OPT_DOUBLE: {
      double x = strtod(v, &end);
      if (end == v || *end != '\0' || !isfinite(x) || !in_bounds(o, x)) {
        bound_text(o, "a finite number", expect, sizeof expect);
        app_usage_error(spec, rank, "option %s expects %s, got '%s'", shown, expect, v);
        return 1;
      }
      *(double *)o->dest = x;
      return 0;
    }
  }
  return 1;
}

static app_opt *find_long(app_cmd_spec *spec, const char *name, size_t len) {
  for (int i = 0; i < spec->nopts; i++) {
    const char *n = spec->opts[i].name;
    if (strlen(n) == len && strncmp(n, name, len) == 0) return &spec->opts[i];
  }
  return NULL;
}

static app_opt *find_short(app_cmd_spec *spec, char c) {
  for (int i = 0; i < spec->nopts; i++)
    if (spec->opts[i].short_name && spec->opts[i].short_name == c) return &spec->opts[i];
  return NULL;
}

int app_parse(app_cmd_spec *spec, int argc, char **argv, int rank) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      if (rank == 0) app_print_help(spec);
      return APP_PARSE_HELP;
    }
  }
  int npos = 0, only_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!only_pos && strcmp(arg, "--") == 0) {
      only_pos = 1;
      continue;
    }
    if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
      app_opt *o = NULL;
      const char *inline_val = NULL;
      char shown[64]; /* the option as typed, for messages */
      snprintf(shown, sizeof shown, "%.*s", (int)strcspn(arg, "="), arg);
      if (arg[1] == '-') {
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        o = find_long(spec, arg, len);
        if (eq) inline_val = eq + 1;
      } else if (arg[2] == '\0') {
        o = find_short(spec, arg[1]);
      }
      if (!o) {
        app_usage_error(spec, rank, "unknown option '%s'", arg);
        return APP_PARSE_USAGE;
      }
      const char *val = NULL;
      if (has_value(o)) {
        if (inline_val) {
          val = inline_val;
        } else if (i + 1 < argc) {
          val = argv[++i];
        } else {
          char mv[160];
          const char *m = o->kind == APP_OPT_CHOICE ? choice_metavar(o, mv, sizeof mv) : o->metavar;
          app_usage_error(spec, rank, "option %s needs a value (%s)", shown, m);
          return APP_PARSE_USAGE;
        }
      } else if (inline_val) {
        app_usage_error(spec, rank, "option %s takes no value", shown);
        return APP_PARSE_USAGE;
      }
      if (store(spec, o, shown, val, rank) != 0) return APP_PARSE_USAGE;
      o->seen = 1;
      continue;
    }
    if (npos == spec->npos) {
      app_usage_error(spec, rank, "unexpected argument '%s'", arg);
      return APP_PARSE_USAGE;
    }
    spec->pos[npos++] = arg;
  }
  if (npos < spec->npos) {
    app_usage_error(spec, rank, "missing argument %s", spec->pos_names[npos]);
    return APP_PARSE_USAGE;
  }
  for (int i = 0; i < spec->nopts; i++) {
    if (spec->opts[i].required && !spec->opts[i].seen) {
      app_usage_error(spec, rank, "missing required option %s", spec->opts[i].name);
      return APP_PARSE_USAGE;
    }
  }
  return APP_PARSE_OK;
}

/* The default of o, from the current value of its destination (the library's
 * defaults are stored there before parsing); "" when there is none to show. */
static void default_text(const app_opt *o, char *buf, size_t len) {
  buf[0] = '\0';
  if (o->defstr) {
    snprintf(buf, len, "%s", o->defstr);
    return;
  }
  if (o->required || !o->dest) return;
  switch (o->kind) {
    case APP_OPT_FLAG:
    case APP_OPT_UNFLAG:
      if (o->key) snprintf(buf, len, "%s=%d", o->key, *(const int *)o->dest);
      break;
    case APP_OPT_LEVEL:
      if (*(const int *)o->dest == APP_LEVEL_TOP) {
        snprintf(buf, len, "top");
        break;
      }
      /* fall through */
    case APP_OPT_INT:
      snprintf(buf, len, "%d", *(const int *)o->dest);
      break;
    case APP_OPT_INT64:
      snprintf(buf, len, "%lld", (long long)*(const int64_t *)o->dest);
      break;
    case APP_OPT_U64:
      snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)o->dest);
      break;
    case APP_OPT_DOUBLE:
      snprintf(buf, len, "%g", *(const double *)o->dest);
      break;
    case APP_OPT_STRING: {
      const char *s = *(const char *const *)o->dest;
      if (s) snprintf(buf, len, "%s", s);
      break;
    }
    case APP_OPT_LIST:
      break;
    case APP_OPT_CHOICE:
      snprintf(buf, len, "%s", app_choice_name(o->choices, *(const int *)o->dest));
      break;
  }
}

enum { HELP_LEFT = 28, HELP_WIDTH = 79 };

/* "  left   text" with text wrapped at word boundaries into the right-hand column. */
static void print_wrapped(const char *left, const char *text) {
  int col;
  if (strlen(left) > HELP_LEFT) {
    printf("  %s\n", left);
    col = printf("  %-*s ", HELP_LEFT, "");
  } else {
    col = printf("  %-*s ", HELP_LEFT, left);
  }
  const int indent = col;
  const char *p = text;
  while (*p) {
    size_t word = strcspn(p, " ");
    if (col > indent && col + 1 + (int)word > HELP_WIDTH) {
      printf("\n%*s", indent, "");
      col = indent;
    }
    if (col > indent) col += printf(" ");
    col += printf("%.*s", (int)word, p);
    p += word;
    while (*p == ' ') p++;
  }
  printf("\n");
}

void app_print_help(const app_cmd_spec *spec) {
  printf("Usage: bfcr %s %s\n\n%s\n", spec->name, spec->usage, spec->summary);
  if (spec->nopts > 0) printf("\nOptions:\n");
  for (int i = 0; i < spec->nopts; i++) {
    const app_opt *o = &spec->opts[i];
    char left[200], mv[160], def[160];
    const char *m = o->kind == APP_OPT_CHOICE ? choice_metavar(o, mv, sizeof mv) : o->metavar;
    if (o->short_name)
      snprintf(left, sizeof left, "-%c, %s%s%s", o->short_name, o->name, m ? " " : "", m ? m : "");
    else
      snprintf(left, sizeof left, "%s%s%s", o->name, m ? " " : "", m ? m : "");
    default_text(o, def, sizeof def);
    char text[600];
    snprintf(text, sizeof text, "%s%s%s%s%s", o->help, o->required ? " (required)" : "",
             def[0] ? " (default: " : "", def, def[0] ? ")" : "");
    print_wrapped(left, text);
  }
  printf("  %-28s %s\n", "-h, --help", "print this help and exit");
  if (spec->epilog) printf("\n%s", spec->epilog);
  printf("\n" APP_EXIT_CODES_HELP);
}
