/*
 * password.h — where the SMTP password comes from when it is not in the
 * environment: a private file, or a command (msmtp's passwordeval).
 *
 * The password never goes into argv, a log line or the environment of a
 * child: the command runs with /bin/sh -c, standard input /dev/null (it
 * cannot eat a recipients list read from stdin), standard error shared
 * (gpg and pass can prompt and complain there) and an environment without
 * HERALD_SMTP_PASSWORD.  Both functions print one line to stderr on
 * failure and return the exit code; 0 with *out a malloc'd string that
 * the caller wipes and frees.
 */
#ifndef HERALD_CLI_PASSWORD_H
#define HERALD_CLI_PASSWORD_H

/* First line of path, which others may neither read nor write.
 * 66 unreadable, 78 readable or writable by others. */
int password_from_file(const char *path, char **out);

/* First line of what cmd prints.  78 when it cannot run, fails (exit
 * status not 0, killed) or prints an empty first line. */
int password_from_command(const char *cmd, char **out);

/* Zeroes s and frees it; NULL is allowed. */
void password_wipe(char *s);

#endif
