/* Wall-clock waiting: deadlines, timeouts and benchmark timings all read
 * one monotonic clock, so a clock step (NTP, a user) never fires or stalls
 * a timeout. Thread-safe. */
#ifndef SF_CLOCK_H
#define SF_CLOCK_H

/* Seconds on CLOCK_MONOTONIC: only differences mean anything. Never fails. */
double sf_clock_now_s(void);

/* Sleep for s seconds (s >= 0), resuming after signals, so a SIGCHLD in the
 * middle does not cut the wait short. Blocks the calling thread. */
void sf_clock_sleep_s(double s);

#endif
