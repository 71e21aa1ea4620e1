/*
 * iorhard: an IOR-hard style MPI-IO check of one shared file seen through
 * two client mounts.
 *
 *   mpirun -np N iorhard PATH_A PATH_B [records_per_rank=256] [record_size=47008] [coll|ind]
 *
 * PATH_A and PATH_B name the same file through two different client mounts;
 * rank r opens it through PATH_A when r is even and PATH_B when r is odd, so
 * every record written by one client is read back through the other.
 *
 * Rank r writes records k*N + r (k = 0 .. records_per_rank-1), each
 * record_size bytes at offset record*record_size: with "ind" one independent
 * MPI_File_write_at per record, with "coll" a strided file view and one
 * MPI_File_write_all. Then MPI_File_sync, MPI_Barrier, and each rank reads
 * back every record of rank (r+1)%N and a pseudo-random sample of all records
 * and checks every byte. The byte at offset j of record i is pattern(i, j), so
 * any rank can check any record. The file size must be N*records*record_size.
 *
 * The first mismatch ends the run with a non-zero status and a line naming
 * the rank, the record, the offset, the expected and the found byte. The last
 * line of a good run starts with "PASS".
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pattern is byte j of record i: a 64-bit mix of (i, j/8), so a record that
 * lands at the wrong offset, a stale page, a hole or a torn write all show
 * (the +1s keep record 0 from starting with zeros). */
static unsigned char pattern(long long i, long long j)
{
	uint64_t x = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(j / 8 + 1) * 0xC2B2AE3D27D4EB4Full;
	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 29;
	return (unsigned char)(x >> (8 * (j % 8)));
}

static int rank, nranks;

static void die(const char *what, int rc)
{
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;
	MPI_Error_string(rc, msg, &len);
	fprintf(stderr, "FAIL rank %d: %s: %s\n", rank, what, msg);
	MPI_Abort(MPI_COMM_WORLD, 2);
}

static void fill(unsigned char *buf, long long rec, int size)
{
	for (int j = 0; j < size; j++)
		buf[j] = pattern(rec, j);
}

/* readcheck reads record rec through fh and checks every byte of it. */
static void readcheck(MPI_File fh, unsigned char *buf, long long rec, int size)
{
	MPI_Status st;
	int got = 0, rc;
	memset(buf, 0, size);
	rc = MPI_File_read_at(fh, (MPI_Offset)rec * size, buf, size, MPI_BYTE, &st);
	if (rc != MPI_SUCCESS)
		die("MPI_File_read_at", rc);
	MPI_Get_count(&st, MPI_BYTE, &got);
	if (got != size) {
		fprintf(stderr, "FAIL rank %d: record %lld (written by rank %lld): short read, %d of %d bytes\n",
			rank, rec, rec % nranks, got, size);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	for (int j = 0; j < size; j++) {
		unsigned char want = pattern(rec, j);
		if (buf[j] != want) {
			fprintf(stderr,
				"FAIL rank %d: record %lld (written by rank %lld) offset %d (file offset %lld): "
				"expected 0x%02x, got 0x%02x\n",
				rank, rec, rec % nranks, j, (long long)rec * size + j, want, buf[j]);
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
	}
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	if (argc < 3) {
		if (rank == 0)
			fprintf(stderr, "usage: iorhard PATH_A PATH_B [records_per_rank] [record_size] [coll|ind]\n");
		MPI_Finalize();
		return 2;
	}
	const char *path = argv[1 + rank % 2];
	long long nrec = argc > 3 ? atoll(argv[3]) : 256;
	int size = argc > 4 ? atoi(argv[4]) : 47008;
	const char *mode = argc > 5 ? argv[5] : "ind";
	int coll = strcmp(mode, "coll") == 0;
	if (nrec <= 0 || size <= 0 || (!coll && strcmp(mode, "ind") != 0)) {
		if (rank == 0)
			fprintf(stderr, "iorhard: bad arguments\n");
		MPI_Finalize();
		return 2;
	}
	long long total = nrec * nranks; /* records in the file */
	unsigned char *buf = malloc((size_t)size * (coll ? nrec : 1));
	if (buf == NULL) {
		fprintf(stderr, "FAIL rank %d: out of memory\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	double t0 = MPI_Wtime();

	MPI_File fh;
	int rc = MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL, &fh);
	if (rc != MPI_SUCCESS)
		die(path, rc);
	rc = MPI_File_set_size(fh, 0);
	if (rc != MPI_SUCCESS)
		die("MPI_File_set_size", rc);

	/* write: records k*N + r */
	MPI_Status st;
	if (coll) {
		MPI_Datatype ftype;
		MPI_Type_vector((int)nrec, size, nranks * size, MPI_BYTE, &ftype);
		MPI_Type_commit(&ftype);
		rc = MPI_File_set_view(fh, (MPI_Offset)rank * size, MPI_BYTE, ftype, "native", MPI_INFO_NULL);
		if (rc != MPI_SUCCESS)
			die("MPI_File_set_view", rc);
		for (long long k = 0; k < nrec; k++)
			fill(buf + (size_t)k * size, k * nranks + rank, size);
		rc = MPI_File_write_all(fh, buf, (int)(nrec * size), MPI_BYTE, &st);
		if (rc != MPI_SUCCESS)
			die("MPI_File_write_all", rc);
		rc = MPI_File_set_view(fh, 0, MPI_BYTE, MPI_BYTE, "native", MPI_INFO_NULL);
		if (rc != MPI_SUCCESS)
			die("MPI_File_set_view", rc);
		MPI_Type_free(&ftype);
	} else {
		for (long long k = 0; k < nrec; k++) {
			long long rec = k * nranks + rank;
			fill(buf, rec, size);
			rc = MPI_File_write_at(fh, (MPI_Offset)rec * size, buf, size, MPI_BYTE, &st);
			if (rc != MPI_SUCCESS)
				die("MPI_File_write_at", rc);
		}
	}
	rc = MPI_File_sync(fh);
	if (rc != MPI_SUCCESS)
		die("MPI_File_sync", rc);
	MPI_Barrier(MPI_COMM_WORLD);
	double t1 = MPI_Wtime();

	/* size */
	MPI_Offset fsize = 0;
	rc = MPI_File_get_size(fh, &fsize);
	if (rc != MPI_SUCCESS)
		die("MPI_File_get_size", rc);
	if (fsize != (MPI_Offset)total * size) {
		fprintf(stderr, "FAIL rank %d: file size %lld, expected %lld (%lld records of %d bytes)\n",
			rank, (long long)fsize, total * size, total, size);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}

	/* read back: every record of the next rank (on the other mount when N
	 * is even), then a sample of records from anywhere */
	unsigned char *rbuf = malloc((size_t)size);
	if (rbuf == NULL) {
		fprintf(stderr, "FAIL rank %d: out of memory\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	int peer = (rank + 1) % nranks;
	long long checked = 0;
	for (long long k = 0; k < nrec; k++, checked++)
		readcheck(fh, rbuf, k * nranks + peer, size);
	uint64_t seed = 0x2545F4914F6CDD1Dull ^ (uint64_t)rank;
	long long sample = nrec / 4 + 1;
	for (long long s = 0; s < sample; s++, checked++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		readcheck(fh, rbuf, (long long)(seed % (uint64_t)total), size);
	}
	double t2 = MPI_Wtime();

	rc = MPI_File_close(&fh);
	if (rc != MPI_SUCCESS)
		die("MPI_File_close", rc);
	long long all = 0;
	MPI_Reduce(&checked, &all, 1, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
	if (rank == 0)
		printf("PASS ranks=%d mode=%s records=%lld record_size=%d size=%lld checked_records=%lld "
		       "write=%.3fs read=%.3fs\n",
		       nranks, mode, total, size, (long long)fsize, all, t1 - t0, t2 - t1);
	free(buf);
	free(rbuf);
	MPI_Finalize();
	return 0;
}
