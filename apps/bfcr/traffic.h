/* Bytes this process hands to MPI for sending, counted by PMPI wrappers (traffic.c)
 * around the calls the library makes, so every exchange of a run is included without
 * instrumenting the library. Collectives count what this rank contributes to the
 * others: Allreduce/Exscan their whole buffer, Bcast (P - 1) copies at the root,
 * gathers the rank's share times the receivers. */
#ifndef BFCR_APP_TRAFFIC_H
#define BFCR_APP_TRAFFIC_H

struct bfcr_ctx;
double app_traffic_bytes(void);
/* Attribute the bytes to the phases of ctx (BFCR_TRAFFIC_PHASES, traffic.c). */
void app_traffic_watch(const struct bfcr_ctx *ctx);
/* With BFCR_TRAFFIC_PHASES=PREFIX set: write "phase<TAB>bytes" lines to PREFIX.<rank>
 * (call before the context is destroyed); stops watching. */
void app_traffic_dump(void);
void app_traffic_reset(void);
/* Note phase ends now (called from the progress hook, so one rank's phases are seen
 * between MPI calls too). */
void app_traffic_poll(void);
/* BFCR_MEM_PHASES=PREFIX (Linux): app_traffic_dump also writes "phase<TAB>VmRSS<TAB>VmHWM"
 * (kB, at the phase's last end; -1 unknown) to PREFIX.<rank>. */

#endif
