// statloop: the C floor for a warm stat. stat(2) every path listed in LIST (relative to DIR), once to
// warm up, then REPS times; prints the mean ns per stat.
//
//	statloop DIR LIST REPS
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static long long now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: statloop DIR LIST REPS\n");
		return 2;
	}
	int dirfd = open(argv[1], O_PATH | O_DIRECTORY);
	FILE *f = fopen(argv[2], "r");
	int reps = atoi(argv[3]);
	if (dirfd < 0 || !f || reps <= 0) {
		perror("statloop");
		return 1;
	}
	char *paths[4096];
	int n = 0;
	char line[4096];
	while (n < 4096 && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		paths[n++] = strdup(line);
	}
	struct stat st;
	for (int i = 0; i < n; i++)
		if (fstatat(dirfd, paths[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			perror(paths[i]);
			return 1;
		}
	long long t0 = now();
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < n; i++)
			fstatat(dirfd, paths[i], &st, AT_SYMLINK_NOFOLLOW);
	long long el = now() - t0;
	printf("%.1f\n", (double)el / ((double)reps * n));
	return 0;
}
