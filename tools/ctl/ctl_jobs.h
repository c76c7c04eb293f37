/* ourvidzctl subcommands that talk to Redis directly: submit --type (as the frontend) and wait. */
#ifndef OV_CTL_JOBS_H
#define OV_CTL_JOBS_H

/* 1 when `cmd` with these arguments is ours ("wait", or "submit" with --type). */
int ov_ctl_jobs_wants(const char *cmd, int argc, char **argv);
/* Run it; argv are the arguments after cmd. Returns the process exit code. */
int ov_ctl_jobs_main(const char *cmd, int argc, char **argv);

#endif
