/* Table-driven option parsing: each subcommand describes its options once (name,
 * argument, help, where the value goes) and both parsing and --help come from that
 * table. Destinations are filled with the library's defaults (*_params_init) before
 * parsing, so --help prints the real defaults without restating any. */
#ifndef BFCR_APP_OPTIONS_H
#define BFCR_APP_OPTIONS_H

#include <stdint.h>

typedef enum app_opt_kind {
  APP_OPT_FLAG,   /* no argument: int dest = 1 */
  APP_OPT_UNFLAG, /* no argument: int dest = 0 */
  APP_OPT_INT,    /* int */
  APP_OPT_INT64,  /* int64_t */
  APP_OPT_U64,    /* uint64_t (no sign accepted) */
  APP_OPT_DOUBLE, /* finite double */
  APP_OPT_STRING, /* const char * (points into argv) */
  APP_OPT_LIST,   /* comma-separated names: app_list */
  APP_OPT_CHOICE, /* one of choices: int */
  APP_OPT_LEVEL   /* int >= 0, or "top" (APP_LEVEL_TOP) */
} app_opt_kind;

#define APP_LEVEL_TOP (-1)

typedef struct app_choice {
  const char *name;
  int value;
} app_choice;

/* A NULL-terminated list of names, e.g. for bfcr_csv_params.features. */
typedef struct app_list {
  char **items; /* n + 1 entries, the last NULL; NULL when the option was not given */
  int n;
  char *buf;
} app_list;

typedef struct app_opt {
  const char *name;    /* "--target" */
  char short_name;     /* 'o' for -o, or 0 */
  const char *metavar; /* "NAME"; NULL for flags and choices (built from choices) */
  app_opt_kind kind;
  void *dest;
  const char *help;
  const app_choice *choices; /* APP_OPT_CHOICE: terminated by a NULL name */
  double min, max;           /* numeric bounds, checked unless both are 0 */
  int required;
  const char *key;    /* flags: the parameter shown as default, e.g. "standardize" */
  const char *defstr; /* text shown instead of the current value as default */
  int seen;           /* set by the parser */
} app_opt;

/* Option entries every subcommand that runs the library shares, one definition each. */
#define APP_OPT_THREADS_ENTRY(dest_ptr)                                             \
  {                                                                                 \
    .name = "--threads", .metavar = "N", .kind = APP_OPT_INT, .dest = (dest_ptr),   \
    .help = "OpenMP threads per rank, 0 = OpenMP's default", .min = 0, .max = 4096, \
    .defstr = "1, or OpenMP's default when OMP_NUM_THREADS is set"                  \
  }
#define APP_OPT_VERBOSE_ENTRY(dest_ptr)                                               \
  {                                                                                   \
    .name = "--verbose", .short_name = 'v', .kind = APP_OPT_FLAG, .dest = (dest_ptr), \
    .help = "also print the library's informational messages"                         \
  }

typedef struct app_cmd_spec {
  const char *name;             /* "fit" */
  const char *usage;            /* after "bfcr fit " */
  const char *summary;          /* paragraph under the usage line */
  const char *const *pos_names; /* names of the positional arguments */
  int npos;
  const char **pos; /* filled by the parser, npos entries */
  app_opt *opts;
  int nopts;
  const char *epilog; /* printed after the options (may be NULL) */
} app_cmd_spec;

enum { APP_PARSE_OK = 0, APP_PARSE_HELP = 1, APP_PARSE_USAGE = 2 };

/* Parse argv[1..argc-1] (argv[0] is the subcommand). On a usage error prints one
 * line on stderr (rank 0) and returns APP_PARSE_USAGE; --help/-h prints the help
 * (rank 0, stdout) and returns APP_PARSE_HELP. Same result on every rank. */
int app_parse(app_cmd_spec *spec, int argc, char **argv, int rank);
void app_print_help(const app_cmd_spec *spec);
/* Print "bfcr: error: <cmd>: <msg>; see 'bfcr <cmd> --help'" on rank 0. */
void app_usage_error(const app_cmd_spec *spec, int rank, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void app_list_free(app_list *l);
/* Whether the option named name was given. */
int app_seen(const app_cmd_spec *spec, const char *name);
/* Name of value in choices, or "?". */
const char *app_choice_name(const app_choice *choices, int value);

#endif
