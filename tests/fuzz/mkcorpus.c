/* SPDX-License-Identifier: ISC */
/*
 * Writes the fuzzer's seed corpus: one file per body (a sample frame of
 * every body, from tests/unit/samples.c), fed whole and in 7-byte chunks,
 * and one file holding a stream of every frame. `make fuzz-corpus`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "samples.h"

static void
put(const char *dir, const char *name, uint8_t chunk, const uint8_t *p,
    size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(&chunk, 1, 1, f) != 1 ||
	    (len > 0 && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	struct iris_wire_msg m;
	uint8_t *buf, *all = NULL;
	size_t i, len, total = 0;
	char name[128];

	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus dir\n");
		return 2;
	}
	for (i = 0; i < sample_nbodies; i++) {
		iris__wire_msg_init(&m);
		if (sample_frame(&m, sample_bodies[i]) != 0 ||
		    (buf = sample_encode(&m, &len)) == NULL) {
			fprintf(stderr, "mkcorpus: body %u\n", sample_bodies[i]);
			return 1;
		}
		snprintf(name, sizeof(name), "%s.bin",
		    iris__wire_bodyname(sample_bodies[i]));
		put(argv[1], name, 0, buf, len);
		snprintf(name, sizeof(name), "%s.split7.bin",
		    iris__wire_bodyname(sample_bodies[i]));
		put(argv[1], name, 7, buf, len);
		if ((all = realloc(all, total + len)) == NULL)
			return 1;
		memcpy(all + total, buf, len);
		total += len;
		free(buf);
		iris__wire_msg_reset(&m);
	}
	put(argv[1], "stream-of-all.bin", 0, all, total);
	free(all);
	return 0;
}
