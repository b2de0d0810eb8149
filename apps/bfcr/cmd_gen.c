/* bfcr gen: seeded synthetic clustered regression data (the benchmarks' "blob data",
 * recipe in include/bfcr/synth.h) written as CSV (header x1..xd,y) atomically. */
#include "app.h"
#include "options.h"

int cmd_gen(app *a, int argc, char **argv) {
  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  const char *out = NULL;
  int threads = 1;
  const double big = 1e300;
  app_opt opts[] = {
      {.name = "--output",
       .short_name = 'o',
       .metavar = "FILE.csv",
       .kind = APP_OPT_STRING,
       .dest = &out,
       .help = "CSV file to write",
       .required = 1},
      {.name = "--n",
       .metavar = "N",
       .kind = APP_OPT_INT64,
       .dest = &sp.n,
       .help = "rows",
       .min = 1,
       .max = big},
      {.name = "--d",
       .metavar = "D",
       .kind = APP_OPT_INT,
       .dest = &sp.d,
       .help = "features",
       .min = 1,
       .max = big},
      {.name = "--clusters",
       .metavar = "K",
       .kind = APP_OPT_INT,
       .dest = &sp.clusters,
       .help = "cluster centres",
       .min = 1,
       .max = big},
      {.name = "--noise",
       .metavar = "S",
       .kind = APP_OPT_DOUBLE,
       .dest = &sp.noise,
       .help = "standard deviation of the target noise",
       .min = 0,
       .max = big},
      {.name = "--spread",
       .metavar = "S",
       .kind = APP_OPT_DOUBLE,
       .dest = &sp.spread,
       .help = "standard deviation of the centres",
       .min = 0,
       .max = big},
      {.name = "--width",
       .metavar = "S",
       .kind = APP_OPT_DOUBLE,
       .dest = &sp.width,
       .help = "standard deviation of the rows around their centre",
       .min = 0,
       .max = big},
      {.name = "--offset",
       .metavar = "S",
       .kind = APP_OPT_DOUBLE,
       .dest = &sp.offset,
       .help = "standard deviation of the per-cluster intercepts",
       .min = 0,
       .max = big},
      {.name = "--latent-dim",
       .metavar = "K",
       .kind = APP_OPT_INT,
       .dest = &sp.latent_dim,
       .help = "rows near a K-dimensional clustered subspace of R^d (0: off)",
       .min = 0,
       .max = big},
      {.name = "--latent-noise",
       .metavar = "S",
       .kind = APP_OPT_DOUBLE,
       .dest = &sp.latent_noise,
       .help = "with --latent-dim: standard deviation of the isotropic noise off the subspace",
       .min = 0,
       .max = big},
      {.name = "--seed",
       .metavar = "S",
       .kind = APP_OPT_U64,
       .dest = &sp.seed,
       .help = "seed (row i depends only on the seed and i)"},
      APP_OPT_THREADS_ENTRY(&threads),
  };
  app_cmd_spec spec = {
      .name = "gen",
      .usage = "-o FILE.csv [--n N] [--d D] [--clusters K] [--noise S] [--seed S] [options]",
      .summary =
          "Write synthetic data: K centres ~ N(0, spread^2 I); each row picks a centre,\n"
          "x = centre + N(0, width^2 I), y = (x - centre) . beta_c + b_c + N(0, noise^2),\n"
          "beta_c ~ N(0, I), b_c ~ N(0, offset^2). Columns x1..xd, y. --latent-dim K draws\n"
          "centres, offsets and slopes in R^K and maps them by a fixed random d x K matrix,\n"
          "plus N(0, latent_noise^2 I) (docs/synthetic.md).",
      .pos_names = NULL,
      .npos = 0,
      .pos = NULL,
      .opts = opts,
      .nopts = (int)(sizeof opts / sizeof opts[0]),
  };
  int pr = app_parse(&spec, argc, argv, a->rank);
  if (pr != APP_PARSE_OK) return pr == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;
  int rc = app_setup_threads(a, threads, app_seen(&spec, "--threads"));
  if (rc) return rc;
  rc = app_fail_status(a, bfcr_synth_write_csv(a->ctx, &sp, out));
  if (rc == APP_EXIT_OK && a->rank == 0)
    printf("bfcr gen: %lld rows x %d features, %d clusters (seed %llu) -> %s\n", (long long)sp.n,
           sp.d, sp.clusters, (unsigned long long)sp.seed, out);
  return rc;
}
