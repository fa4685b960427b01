// ovl's native tree scanner: walks a tree, stats a list of paths or reads a list of directories
// in one call, off the main thread (libuv's pool), and hands back flat data instead of an object
// per syscall. Never follows a symlink: directories are opened O_NOFOLLOW beneath their parent's
// fd, entries are fstatat(AT_SYMLINK_NOFOLLOW)'d, xattrs are read with l*xattr. Only a path the
// caller ends with '/' (a layer root, which the kernel resolves too) is followed. A failed call is
// data (an errno in the entry's record), never a thrown walk.
//
// Output, decoded by src/io/scan-native.ts:
//   recs   one rec_t per entry (below), as a Float64Array: JS reads the doubles through it and
//          the 32-bit fields through an Int32Array of the same buffer
//   xattrs Float64Array, XREC doubles per xattr: name offset, name length, value offset,
//          value length (-1: absent), errno
//   bytes  Buffer holding every name and value
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

// One entry: 96 bytes, not 18 doubles (144): a 10^6-entry walk is held whole while it is paired.
// Doubles where a value may pass 2^32 (as Node's Stats keeps them), 32 bits for the rest.
typedef struct {
	double size, blocks, ino, dev, rdev, mtime_ms;
	int32_t parent; // -1: the root; a walk task's own root is -2 - its record until appended
	uint32_t name_off;
	int32_t name_len; // readDirs: -1 for a dir's header record
	uint32_t mode, uid, gid, nlink;
	uint32_t xfirst, xcount;
	int32_t stat_err, xattr_err;
	int32_t extra; // scan: readdir errno of a dir; readDirs: 1 for an xattr whiteout, -errno
} rec_t;
_Static_assert(sizeof(rec_t) == 96, "rec_t is 12 doubles: src/io/scan-native.ts reads it so");
enum { REC_DOUBLES = sizeof(rec_t) / sizeof(double) };
enum { XREC = 5 };

// What the caller asks for.
enum { F_XATTRS = 1, F_OTHER_VALUES = 2 };
enum { MODE_TREE, MODE_PATHS, MODE_DIRS };

typedef struct {
	char *p;
	size_t len, cap;
} bytes_t;

typedef struct {
	double *p;
	size_t len, cap; // in doubles
} nums_t;

typedef struct {
	rec_t *p;
	size_t len, cap; // in records
} recs_t;

// One thread's output (the job's own, or a parallel walk task's) and what it needs to read.
typedef struct {
	int flags;
	char ns_prefix[32];    // "trusted.overlay." or "user.overlay."
	double *progress;      // entries seen so far, read by JS while the work runs
	uint64_t *seen;        // the count behind progress, shared by the walk's threads
	recs_t recs;
	nums_t xattrs;
	bytes_t bytes; // xattr names and values
	bytes_t names; // entry names, each followed by '/' (which no name holds)
	int oom;
	rec_t *main_recs; // MODE_TREE tasks: the job's records, where a task root's errno goes
	// MODE_TREE paired with the lower layers (pair_dir): their roots, top first, and what was found
	char **lowers;
	size_t nlowers;
	recs_t hits; // lower entries by each upper entry's name (or its sibling redirect's)
	recs_t ctxs; // each upper dir's merge context: the lower dirs the kernel merges under it
	double dirs_read;
	char path[PATH_MAX + 256];
} out_t;

typedef struct {
	int mode;
	char *root;            // MODE_TREE
	char **paths;          // MODE_PATHS, MODE_DIRS
	size_t npaths;
	// MODE_DIRS: per dir, the only names wanted (sorted, NULL: all of them); their storage
	char ***wanted;
	size_t *nwanted;
	char **wanted_buf;
	napi_ref progress_ref;
	uint64_t seen;
	out_t out;
	napi_async_work work;
	napi_deferred deferred;
} job_t;

static int grow(void **p, size_t *cap, size_t need, size_t unit) {
	if (need <= *cap) return 0;
	// From 16 KiB: a walk task holds its arrays until all are done, and 10^3 tasks of 4096
	// records each (hits and contexts too) were 140 MB of mostly empty pages.
	size_t n = *cap ? *cap : 16384 / unit ? 16384 / unit : 1;
	while (n < need) n *= 2;
	void *q = realloc(*p, n * unit);
	if (!q) return -1;
	*p = q;
	*cap = n;
	return 0;
}

// A new zeroed record; its index is j->recs.len - 1 (a pointer into recs moves when it grows).
static rec_t *new_rec(out_t *j) {
	// Parents are 32-bit record indices.
	if (j->recs.len >= INT32_MAX || grow((void **)&j->recs.p, &j->recs.cap, j->recs.len + 1, sizeof(rec_t))) {
		j->oom = 1;
		return NULL;
	}
	rec_t *r = j->recs.p + j->recs.len;
	memset(r, 0, sizeof *r);
	j->recs.len++;
	return r;
}

static double put_bytes(out_t *j, const char *s, size_t n) {
	if (grow((void **)&j->bytes.p, &j->bytes.cap, j->bytes.len + n, 1)) {
		j->oom = 1;
		return 0;
	}
	memcpy(j->bytes.p + j->bytes.len, s, n);
	j->bytes.len += n;
	return (double)(j->bytes.len - n);
}

// An entry name into the names buffer, '/'-terminated so JS can split them all at once.
static uint32_t put_name(out_t *j, const char *s, size_t n) {
	// A record keeps its name's offset in 32 bits: past 4 GiB of names the scan fails (ENOMEM), never wraps.
	if (j->names.len + n + 1 > UINT32_MAX || grow((void **)&j->names.p, &j->names.cap, j->names.len + n + 1, 1)) {
		j->oom = 1;
		return 0;
	}
	memcpy(j->names.p + j->names.len, s, n);
	j->names.p[j->names.len + n] = '/';
	j->names.len += n + 1;
	return (uint32_t)(j->names.len - n - 1);
}

static void put_xattr(out_t *j, const char *name, const char *val, ssize_t vlen, int err) {
	if (grow((void **)&j->xattrs.p, &j->xattrs.cap, j->xattrs.len + XREC, sizeof(double))) {
		j->oom = 1;
		return;
	}
	double *x = j->xattrs.p + j->xattrs.len;
	size_t nlen = strlen(name);
	x[0] = put_bytes(j, name, nlen);
	x[1] = (double)nlen;
	x[2] = vlen >= 0 ? put_bytes(j, val, (size_t)vlen) : 0;
	x[3] = (double)vlen;
	x[4] = err;
	j->xattrs.len += XREC;
}

static void fill_stat(rec_t *r, const struct stat *st) {
	r->mode = st->st_mode;
	r->uid = st->st_uid;
	r->gid = st->st_gid;
	r->size = (double)st->st_size;
	r->blocks = (double)st->st_blocks;
	r->nlink = st->st_nlink > UINT32_MAX ? UINT32_MAX : (uint32_t)st->st_nlink;
	r->ino = (double)st->st_ino;
	r->dev = (double)st->st_dev;
	r->rdev = (double)st->st_rdev;
	// As Node computes Stats.mtimeMs, so both scanners give the same double.
	r->mtime_ms = (double)st->st_mtim.tv_sec * 1000 + (double)st->st_mtim.tv_nsec / 1000000;
}

// An entry's xattrs by its dir's fd and its name: listxattrat/getxattrat (Linux 6.13) resolve one
// component beneath the open dir, where l*xattr walk the whole path again from / (slower, and a
// rename racing the walk could point them at another file). Older kernels: the path.
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif
struct ovl_xattr_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};
// Set once the kernel answers ENOSYS; EPERM (a seccomp filter that does not know the call) retries
// by path each time, as no xattr call answers EPERM itself.
static int xattrat_missing;

typedef struct {
	int dfd; // -1: by path only
	const char *name;
	const char *path;
} where_t;

static ssize_t list_at(const where_t *w, char *buf, size_t size) {
	if (w->dfd >= 0 && !__atomic_load_n(&xattrat_missing, __ATOMIC_RELAXED)) {
		long n = syscall(SYS_listxattrat, w->dfd, w->name, AT_SYMLINK_NOFOLLOW, buf, size);
		if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
		if (errno == ENOSYS) __atomic_store_n(&xattrat_missing, 1, __ATOMIC_RELAXED);
	}
	return llistxattr(w->path, buf, size);
}

static ssize_t get_at(const where_t *w, const char *name, char *buf, size_t size) {
	if (w->dfd >= 0 && !__atomic_load_n(&xattrat_missing, __ATOMIC_RELAXED)) {
		struct ovl_xattr_args a = {(uint64_t)(uintptr_t)buf, (uint32_t)size, 0};
		long n = syscall(SYS_getxattrat, w->dfd, w->name, AT_SYMLINK_NOFOLLOW, name, &a, sizeof a);
		if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
		if (errno == ENOSYS) __atomic_store_n(&xattrat_missing, 1, __ATOMIC_RELAXED);
	}
	return lgetxattr(w->path, name, buf, size);
}

// One xattr's value into a growing buffer: its length, or -1 with errno set.
static ssize_t get_value(const where_t *w, const char *name, char **buf, size_t *cap) {
	for (;;) {
		ssize_t n = get_at(w, name, *buf, *cap);
		if (n >= 0 || errno != ERANGE) return n;
		ssize_t want = get_at(w, name, NULL, 0);
		if (want < 0) return -1;
		if (grow((void **)buf, cap, (size_t)want + 1, 1)) {
			errno = ENOMEM;
			return -1;
		}
	}
}

static int is_overlay_name(const char *n) {
	return strncmp(n, "trusted.overlay.", 16) == 0 || strncmp(n, "user.overlay.", 13) == 0;
}

// The entry's xattrs: overlay.* of the live namespace with values, other overlay namespaces
// skipped, the rest by name (values when F_OTHER_VALUES).
static __thread char *list, *val;
static __thread size_t list_cap, val_cap;

static void free_thread_buffers(void) {
	free(list);
	free(val);
	list = val = NULL;
	list_cap = val_cap = 0;
}

static void read_xattrs(out_t *j, recs_t *in, size_t rec_at, const where_t *w) {
	if (!list && grow((void **)&list, &list_cap, 4096, 1)) return;
	if (!val && grow((void **)&val, &val_cap, 4096, 1)) return;
	ssize_t n;
	for (;;) {
		n = list_at(w, list, list_cap);
		if (n >= 0 || errno != ERANGE) break;
		ssize_t want = list_at(w, NULL, 0);
		if (want < 0 || grow((void **)&list, &list_cap, (size_t)want + 1, 1)) {
			n = -1;
			break;
		}
	}
	if (n < 0) {
		if (errno != ENOTSUP && errno != ENOENT) in->p[rec_at].xattr_err = errno;
		return;
	}
	in->p[rec_at].xfirst = (uint32_t)(j->xattrs.len / XREC);
	size_t count = 0, plen = strlen(j->ns_prefix);
	for (ssize_t i = 0; i < n;) {
		const char *name = list + i;
		i += (ssize_t)strlen(name) + 1;
		int live = strncmp(name, j->ns_prefix, plen) == 0;
		if (!live && is_overlay_name(name)) continue;
		if (live || (j->flags & F_OTHER_VALUES)) {
			ssize_t v = get_value(w, name, &val, &val_cap);
			int err = v < 0 ? errno : 0;
			put_xattr(j, name, val, v, err == ENODATA ? 0 : err);
		} else {
			put_xattr(j, name, NULL, -1, 0);
		}
		count++;
	}
	in->p[rec_at].xcount = (uint32_t)count;
}

// A path l*xattr can take for `name` in the dir open as `dirfd` whose path is j->path[0..plen):
// the plain path when short, else one reached through the dir's descriptor (LONG: not tracked).
#define LONG ((size_t)-1)
static const char *xattr_path(out_t *j, size_t plen, int dirfd, const char *name, char *alt, size_t altsz) {
	size_t nlen = strlen(name);
	if (plen != LONG && plen + 1 + nlen < 4000) {
		j->path[plen] = '/';
		memcpy(j->path + plen + 1, name, nlen + 1);
		return j->path;
	}
	snprintf(alt, altsz, "/proc/self/fd/%d/%s", dirfd, name);
	return alt;
}

static int by_name(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// The names in an open directory (not . and ..), sorted by bytes; the fd stays open.
static char **list_dir(int fd, size_t *count, int *err) {
	*count = 0;
	*err = 0;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
	if (!d) {
		*err = errno;
		if (dup_fd >= 0) close(dup_fd);
		return NULL;
	}
	size_t cap = 0;
	char **names = NULL;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
		char *copy = strdup(e->d_name);
		if (!copy || grow((void **)&names, &cap, *count + 1, sizeof(char *))) {
			free(copy);
			errno = ENOMEM;
			break;
		}
		names[(*count)++] = copy;
		errno = 0;
	}
	*err = errno;
	closedir(d);
	if (*count) qsort(names, *count, sizeof(char *), by_name);
	return names;
}

static void free_names(char **names, size_t n) {
	for (size_t i = 0; i < n; i++) free(names[i]);
	free(names);
}

// One entry named `name` in the dir open as `dfd`: a record with its stat and xattrs.
// Returns the record's index, or -1.
static ssize_t entry(out_t *j, int dfd, size_t plen, const char *name, int32_t parent, struct stat *st) {
	if (!new_rec(j)) return -1;
	size_t at = j->recs.len - 1;
	size_t nlen = strlen(name);
	uint32_t off = put_name(j, name, nlen);
	rec_t *r = j->recs.p + at;
	r->parent = parent;
	r->name_off = off;
	r->name_len = (int32_t)nlen;
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		r->stat_err = errno;
		return -1;
	}
	fill_stat(r, st);
	// Several walk threads count: the double JS reads is only ever stored whole.
	if (j->progress) j->progress[0] = (double)__atomic_add_fetch(j->seen, 1, __ATOMIC_RELAXED);
	// The kernel puts no xattrs on whiteouts (0/0 char devices): skip the listxattr.
	if ((j->flags & F_XATTRS) && !(S_ISCHR(st->st_mode) && st->st_rdev == 0)) {
		char alt[64 + NAME_MAX];
		where_t w = {dfd, name, xattr_path(j, plen, dfd, name, alt, sizeof alt)};
		read_xattrs(j, &j->recs, at, &w);
	}
	return (ssize_t)at;
}

static mode_t dt_mode(unsigned char t);

// ---- Pairing the walk with the lower layers (MODE_TREE with lowers) ----
// Each upper dir is looked up in its merge context as the kernel's lookup would: every lower dir
// of the context is read once for the names the upper dir holds (and its children's sibling
// redirects), each name found is fstatat'd beneath that dir, and a child dir's context is made of
// the dirs found for it, top first, up to a non-dir or after an opaque one. A whiteout ends a
// name's hits. Output, per upper entry, in `hits`: rec_t with parent = the upper record, extra =
// the lower's position (0: top), name_off = HIT_* flags, name_len = the whiteout check's errno;
// xattrs (HIT_XATTRS) only on a name's top hit under an upper entry that is not a whiteout: the
// one a copy-up is compared with or a metacopy's data is read from;
// per upper dir, in `ctxs`: one rec_t per dir of its context with its fstat, opaque xattr, extra =
// position. A hit or a context dir that cannot be read is data (stat_err), as elsewhere.
enum { HIT_REDIRECT = 1, HIT_WHITEOUT = 2, HIT_XATTRS = 4 };

typedef struct {
	int32_t pos;
	char *path;
} cand_t;

typedef struct {
	cand_t *p;
	size_t n;
} cands_t;

static void free_cands(cands_t *c) {
	for (size_t i = 0; i < c->n; i++) free(c->p[i].path);
	free(c->p);
	c->p = NULL;
	c->n = 0;
}

static int push_cand(cands_t *c, int32_t pos, const char *dir, const char *name) {
	size_t dl = strlen(dir), nl = name ? strlen(name) : 0;
	char *p = malloc(dl + nl + 2);
	cand_t *q = realloc(c->p, (c->n + 1) * sizeof *q);
	if (!p || !q) {
		free(p);
		if (q) c->p = q;
		return -1;
	}
	c->p = q;
	memcpy(p, dir, dl);
	size_t at = dl;
	if (name) {
		if (!dl || p[dl - 1] != '/') p[at++] = '/';
		memcpy(p + at, name, nl);
		at += nl;
	}
	p[at] = 0;
	c->p[c->n++] = (cand_t){pos, p};
	return 0;
}

// One overlay xattr of the live namespace on record `rec`: its value (in j->bytes) and length.
static const char *own_xattr(out_t *j, const rec_t *r, const char *key, ssize_t *len) {
	size_t plen = strlen(j->ns_prefix), klen = strlen(key);
	for (uint32_t k = 0; k < r->xcount; k++) {
		const double *x = j->xattrs.p + (size_t)(r->xfirst + k) * XREC;
		const char *name = j->bytes.p + (size_t)x[0];
		if ((size_t)x[1] != plen + klen || memcmp(name, j->ns_prefix, plen) || memcmp(name + plen, key, klen)) continue;
		*len = (ssize_t)x[3];
		return x[3] < 0 ? "" : j->bytes.p + (size_t)x[2];
	}
	return NULL;
}

// The open context of one upper dir: the candidates opened in order, each recorded; with `stop`,
// none after an opaque one (the root's context is every layer).
typedef struct {
	int fd;
	int32_t pos;
	int xwhiteouts;
	const char *path; // borrowed from the candidates
} ctxdir_t;

static size_t open_ctx(out_t *j, int32_t dir_rec, const cands_t *c, int stop, ctxdir_t *out) {
	char opaque_name[64];
	snprintf(opaque_name, sizeof opaque_name, "%sopaque", j->ns_prefix);
	size_t n = 0;
	for (size_t k = 0; k < c->n && !j->oom; k++) {
		if (grow((void **)&j->ctxs.p, &j->ctxs.cap, j->ctxs.len + 1, sizeof(rec_t))) {
			j->oom = 1;
			break;
		}
		rec_t *r = j->ctxs.p + j->ctxs.len++;
		memset(r, 0, sizeof *r);
		r->parent = dir_rec;
		r->extra = c->p[k].pos;
		ctxdir_t *d = out + n++;
		*d = (ctxdir_t){-1, c->p[k].pos, 0, c->p[k].path};
		d->fd = open(c->p[k].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (d->fd < 0) {
			r->stat_err = errno;
			continue;
		}
		struct stat st;
		if (fstat(d->fd, &st) == 0) fill_stat(r, &st);
		char val[256];
		ssize_t ov = fgetxattr(d->fd, opaque_name, val, sizeof val);
		if (ov >= 0) {
			size_t at = j->ctxs.len - 1;
			uint32_t xf = (uint32_t)(j->xattrs.len / XREC);
			put_xattr(j, opaque_name, val, ov, 0);
			j->ctxs.p[at].xfirst = xf;
			j->ctxs.p[at].xcount = 1;
			d->xwhiteouts = ov == 1 && val[0] == 'x';
			if (stop && ov == 1 && val[0] == 'y') break;
		} else if (errno != ENODATA && errno != ENOTSUP) {
			j->ctxs.p[j->ctxs.len - 1].xattr_err = errno;
		}
	}
	return n;
}

typedef struct {
	const char *name;
	uint32_t child;
	uint32_t kind;
} look_t;

// The path of `name` in context dir `c` for l*xattr (when the *at calls are missing).
static void lower_path(char *p, size_t size, const ctxdir_t *c, const char *name) {
	size_t dl = strlen(c->path);
	if (snprintf(p, size, "%s%s%s", c->path, dl && c->path[dl - 1] == '/' ? "" : "/", name) >= (int)size)
		snprintf(p, size, "/proc/self/fd/%d/%s", c->fd, name);
}

static int by_look(const void *a, const void *b) {
	return strcmp(((const look_t *)a)->name, ((const look_t *)b)->name);
}

typedef struct {
	uint32_t child, kind;
	int32_t order; // position of the context dir it was found in
	rec_t r;
} found_t;

static int by_found(const void *a, const void *b) {
	const found_t *x = a, *y = b;
	if (x->child != y->child) return x->child < y->child ? -1 : 1;
	if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

// A sibling redirect (one component, not . or ..) of child record `rec`, or NULL.
static const char *sibling_redirect(out_t *j, size_t rec, ssize_t *len) {
	const char *r = own_xattr(j, j->recs.p + rec, "redirect", len);
	if (!r || *len <= 0 || memchr(r, '/', (size_t)*len) || memchr(r, 0, (size_t)*len)) return NULL;
	if ((*len == 1 && r[0] == '.') || (*len == 2 && r[0] == '.' && r[1] == '.')) return NULL;
	return r;
}

// The hits of the `n` children (records at[i], -1: not stat'd) of one upper dir in its open
// context `ctx`, appended to j->hits sorted by child, own name before redirect, top first.
static void pair_dir(out_t *j, ctxdir_t *ctx, size_t nctx, char **names, const ssize_t *at, size_t n, char **rnames) {
	char whiteout_name[64];
	snprintf(whiteout_name, sizeof whiteout_name, "%swhiteout", j->ns_prefix);
	look_t *looks = malloc((2 * n + 1) * sizeof *looks);
	found_t *found = NULL;
	size_t nlooks = 0, nfound = 0, fcap = 0;
	if (!looks) {
		j->oom = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (at[i] < 0) continue;
		looks[nlooks++] = (look_t){names[i], (uint32_t)i, 0};
		if (rnames[i]) looks[nlooks++] = (look_t){rnames[i], (uint32_t)i, HIT_REDIRECT};
	}
	qsort(looks, nlooks, sizeof *looks, by_look);
	for (size_t k = 0; k < nctx && nlooks && !j->oom; k++) {
		if (ctx[k].fd < 0) continue;
		int dup_fd = fcntl(ctx[k].fd, F_DUPFD_CLOEXEC, 0);
		DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
		if (!d) {
			if (dup_fd >= 0) close(dup_fd);
			continue;
		}
		j->dirs_read++;
		struct dirent *e;
		while ((e = readdir(d)) && !j->oom) {
			look_t key = {e->d_name, 0, 0};
			look_t *hit = bsearch(&key, looks, nlooks, sizeof *looks, by_look);
			if (!hit) continue;
			while (hit > looks && strcmp(hit[-1].name, e->d_name) == 0) hit--;
			rec_t r;
			memset(&r, 0, sizeof r);
			r.extra = ctx[k].pos;
			struct stat st;
			int whiteout = 0;
			if (fstatat(ctx[k].fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				fill_stat(&r, &st);
				whiteout = S_ISCHR(st.st_mode) && st.st_rdev == 0;
			} else {
				// Gone since its dir was read: its type from the dir, never a whiteout.
				r.stat_err = errno;
				mode_t m = e->d_type == DT_CHR ? S_IFCHR : dt_mode(e->d_type);
				r.mode = m ? m : S_IFREG;
				r.rdev = 1;
			}
			if (!r.stat_err && ctx[k].xwhiteouts && S_ISREG(st.st_mode)) {
				char p[PATH_MAX + 1];
				lower_path(p, sizeof p, &ctx[k], e->d_name);
				where_t w = {ctx[k].fd, e->d_name, p};
				if (get_at(&w, whiteout_name, NULL, 0) >= 0) whiteout = 1;
				else if (errno != ENODATA && errno != ENOTSUP) r.name_len = errno;
			}
			if (whiteout) r.name_off = HIT_WHITEOUT;
			for (; hit < looks + nlooks && strcmp(hit->name, e->d_name) == 0; hit++) {
				if (grow((void **)&found, &fcap, nfound + 1, sizeof *found)) {
					j->oom = 1;
					break;
				}
				found[nfound] = (found_t){hit->child, hit->kind, (int32_t)k, r};
				found[nfound].r.parent = (int32_t)at[hit->child];
				found[nfound].r.name_off |= hit->kind;
				nfound++;
			}
		}
		closedir(d);
	}
	if (nfound) qsort(found, nfound, sizeof *found, by_found);
	// A whiteout ends its name's hits: it and what lies below it are not given.
	for (size_t f = 0; f < nfound && !j->oom;) {
		size_t g = f;
		int ended = 0;
		for (; g < nfound && found[g].child == found[f].child && found[g].kind == found[f].kind; g++) {
			if (ended || (found[g].r.name_off & HIT_WHITEOUT)) {
				ended = 1;
				continue;
			}
			const rec_t *up = j->recs.p + found[g].r.parent;
			int upper_whiteout = S_ISCHR(up->mode) && up->rdev == 0;
			if (g == f && !upper_whiteout && !found[g].r.stat_err && (j->flags & F_XATTRS)) {
				const ctxdir_t *c = &ctx[found[g].order];
				const char *name = found[g].kind ? rnames[found[g].child] : names[found[g].child];
				char p[PATH_MAX + 1];
				lower_path(p, sizeof p, c, name);
				where_t w = {c->fd, name, p};
				recs_t one = {&found[g].r, 1, 1};
				read_xattrs(j, &one, 0, &w);
				found[g].r.name_off |= HIT_XATTRS;
			}
			if (grow((void **)&j->hits.p, &j->hits.cap, j->hits.len + 1, sizeof(rec_t))) {
				j->oom = 1;
				break;
			}
			j->hits.p[j->hits.len++] = found[g].r;
		}
		f = g;
	}
	free(found);
	free(looks);
}

// The context candidates of child dir `i` (record `rec`) from its hits (j->hits[from, to)):
// none under an opaque upper dir; a redirect's from the layers' roots or its sibling's hits;
// else its own name's dirs, up to a non-dir.
static void child_cands(out_t *j, const ctxdir_t *ctx, size_t nctx, size_t rec, const char *name, size_t from, size_t to, cands_t *out) {
	ssize_t len;
	const char *opaque = own_xattr(j, j->recs.p + rec, "opaque", &len);
	if (opaque && len == 1 && opaque[0] == 'y') return;
	const char *r = own_xattr(j, j->recs.p + rec, "redirect", &len);
	char value[PATH_MAX];
	if (r && (len <= 0 || (size_t)len >= sizeof value || memchr(r, 0, (size_t)len))) return;
	if (r) {
		memcpy(value, r, (size_t)len);
		value[len] = 0;
	}
	if (r && value[0] == '/') {
		// From each layer's root: missing there, the next layer; a non-dir ends it. Lexically, as
		// the JS side joins it; a . or .. component names nothing (the kernel's lookup refuses them).
		char norm[PATH_MAX];
		size_t nl = 0;
		for (char *save = NULL, *c = strtok_r(value, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
			if (!strcmp(c, ".") || !strcmp(c, "..")) return;
			size_t cl = strlen(c);
			if (nl + cl + 2 >= sizeof norm) return;
			if (nl) norm[nl++] = '/';
			memcpy(norm + nl, c, cl);
			nl += cl;
		}
		norm[nl] = 0;
		for (size_t L = 0; L < j->nlowers; L++) {
			char p[PATH_MAX * 2];
			snprintf(p, sizeof p, "%s%s", j->lowers[L], norm);
			struct stat st;
			if (fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
			if (!S_ISDIR(st.st_mode)) break;
			if (push_cand(out, (int32_t)L, p, NULL)) j->oom = 1;
		}
		return;
	}
	size_t vlen = r ? (size_t)len : 0;
	if (r && (memchr(value, '/', vlen) || !strcmp(value, ".") || !strcmp(value, ".."))) return;
	uint32_t kind = r ? HIT_REDIRECT : 0;
	for (size_t h = from; h < to; h++) {
		const rec_t *x = j->hits.p + h;
		if ((size_t)x->parent != rec || (x->name_off & HIT_REDIRECT) != kind) continue;
		if ((x->mode & S_IFMT) != S_IFDIR) break;
		const char *dir = NULL;
		for (size_t k = 0; k < nctx; k++)
			if (ctx[k].pos == x->extra) dir = ctx[k].path;
		if (dir && push_cand(out, x->extra, dir, r ? value : name)) j->oom = 1;
	}
}

// One upper dir's listing paired: `cands` opened as its context, its children's hits, and each
// child dir's candidates (cc[i]); the context's fds are closed again.
static void pair_children(out_t *j, int32_t dir_rec, const cands_t *cands, int stop, char **names, const ssize_t *at, const int *isdir, size_t n, cands_t *cc) {
	ctxdir_t *ctx = malloc((cands->n + 1) * sizeof *ctx);
	char **rnames = calloc(n + 1, sizeof *rnames);
	if (!ctx || !rnames) {
		free(ctx);
		free(rnames);
		j->oom = 1;
		return;
	}
	size_t nctx = open_ctx(j, dir_rec, cands, stop, ctx);
	for (size_t i = 0; i < n; i++) {
		ssize_t len;
		const char *r = at[i] < 0 ? NULL : sibling_redirect(j, (size_t)at[i], &len);
		if (r) rnames[i] = strndup(r, (size_t)len);
	}
	size_t from = j->hits.len;
	if (n) pair_dir(j, ctx, nctx, names, at, n, rnames);
	for (size_t i = 0; i < n && !j->oom; i++)
		if (isdir[i]) child_cands(j, ctx, nctx, (size_t)at[i], names[i], from, j->hits.len, &cc[i]);
	for (size_t k = 0; k < nctx; k++)
		if (ctx[k].fd >= 0) close(ctx[k].fd);
	for (size_t i = 0; i < n; i++) free(rnames[i]);
	free(rnames);
	free(ctx);
}

// One directory of the tree (open as `fd`, path j->path[0..plen), record `parent`), depth first:
// its entries first, then (when `cands`) their lower hits, then its subdirectories.
static void walk(out_t *j, int fd, size_t plen, int32_t parent, const cands_t *cands, int stop) {
	size_t n;
	int err;
	char **names = list_dir(fd, &n, &err);
	if (err && parent >= 0) j->recs.p[parent].extra = err;
	else if (err && parent <= -2) j->main_recs[-2 - parent].extra = err; // a task's root
	else if (err) j->oom = -err; // the root itself: the whole scan fails
	ssize_t *at = malloc((n + 1) * sizeof *at);
	int *isdir = calloc(n + 1, sizeof *isdir);
	cands_t *cc = calloc(n + 1, sizeof *cc);
	if (!at || !isdir || !cc) j->oom = 1;
	for (size_t i = 0; i < n && !j->oom; i++) {
		struct stat st;
		at[i] = entry(j, fd, plen, names[i], parent, &st);
		isdir[i] = at[i] >= 0 && S_ISDIR(st.st_mode);
	}
	if (cands && !j->oom) pair_children(j, parent, cands, stop, names, at, isdir, n, cc);
	for (size_t i = 0; i < n && !j->oom; i++) {
		if (!isdir[i]) continue;
		int cfd = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			j->recs.p[at[i]].extra = errno;
			continue;
		}
		size_t nlen = strlen(names[i]), clen = LONG;
		if (plen != LONG && plen + 1 + nlen < 4000) {
			j->path[plen] = '/';
			memcpy(j->path + plen + 1, names[i], nlen + 1);
			clen = plen + 1 + nlen;
		}
		walk(j, cfd, clen, (int32_t)at[i], cands ? &cc[i] : NULL, 1);
		close(cfd);
	}
	if (cc)
		for (size_t i = 0; i < n; i++) free_cands(&cc[i]);
	free(cc);
	free(isdir);
	free(at);
	free_names(names, n);
}

// MODE_TREE in parallel. The top of the tree is read here, level by level, until it has enough
// subdirectories to share out (a container upper is often /usr and little else); each of those
// is a task walked depth first into its own output by a small pool of threads, and the outputs
// are appended in task order. Records stay in an order where a parent comes before its children.
enum { TASKS_ENOUGH = 8, LEVELS_MAX = 3, THREADS_MAX = 8 };

typedef struct {
	int fd;
	char *path; // NULL: too long to track (xattrs go through /proc/self/fd)
	size_t plen;
	int32_t rec; // -1: the root
	cands_t cands; // paired: its merge context's candidates (the root's: every lower root)
	int stop;      // whether an opaque lower dir ends its context (not at the root)
} open_dir_t;

typedef struct {
	int parent_fd;
	char *name;
	const open_dir_t *parent;
	int32_t rec;
	cands_t cands;
	out_t out;
} task_t;

typedef struct {
	job_t *jb;
	task_t *tasks;
	size_t ntasks, next;
} pool_t;

static void init_out(out_t *o, const out_t *like, rec_t *main_recs) {
	o->flags = like->flags;
	memcpy(o->ns_prefix, like->ns_prefix, sizeof o->ns_prefix);
	o->progress = like->progress;
	o->seen = like->seen;
	o->main_recs = main_recs;
	o->lowers = like->lowers;
	o->nlowers = like->nlowers;
}

// The entries of one open dir into `o`; its subdirectories become tasks.
static int read_level_dir(out_t *o, const open_dir_t *d, task_t **tasks, size_t *ntasks, size_t *cap) {
	size_t plen = LONG;
	if (d->path) {
		plen = d->plen;
		memcpy(o->path, d->path, plen);
	}
	size_t n;
	int err;
	char **names = list_dir(d->fd, &n, &err);
	if (err && d->rec >= 0) o->recs.p[d->rec].extra = err;
	else if (err) o->oom = -err;
	ssize_t *at = malloc((n + 1) * sizeof *at);
	int *isdir = calloc(n + 1, sizeof *isdir);
	cands_t *cc = calloc(n + 1, sizeof *cc);
	if (!at || !isdir || !cc) o->oom = 1;
	for (size_t i = 0; i < n && !o->oom; i++) {
		struct stat st;
		at[i] = entry(o, d->fd, plen, names[i], d->rec, &st);
		isdir[i] = at[i] >= 0 && S_ISDIR(st.st_mode);
	}
	if (o->lowers && !o->oom) pair_children(o, d->rec, &d->cands, d->stop, names, at, isdir, n, cc);
	for (size_t i = 0; i < n && !o->oom; i++) {
		if (!isdir[i]) continue;
		if (grow((void **)tasks, cap, *ntasks + 1, sizeof(task_t))) {
			o->oom = 1;
			break;
		}
		task_t *t = *tasks + (*ntasks)++;
		memset(t, 0, sizeof *t);
		t->parent_fd = d->fd;
		t->parent = d;
		t->name = names[i];
		names[i] = NULL; // the task owns it now
		t->rec = (int32_t)at[i];
		t->cands = cc[i];
		cc[i] = (cands_t){NULL, 0};
	}
	if (cc)
		for (size_t i = 0; i < n; i++) free_cands(&cc[i]);
	free(cc);
	free(isdir);
	free(at);
	free_names(names, n);
	return o->oom ? -1 : 0;
}

// A task's dir path (its parent's plus its name) into `buf`; LONG when it is not tracked.
static size_t task_path(const task_t *t, char *buf) {
	const open_dir_t *d = t->parent;
	size_t nlen = strlen(t->name);
	if (!d->path || d->plen + 1 + nlen >= 4000) return LONG;
	memcpy(buf, d->path, d->plen);
	buf[d->plen] = '/';
	memcpy(buf + d->plen + 1, t->name, nlen + 1);
	return d->plen + 1 + nlen;
}

static void run_task(job_t *jb, task_t *t) {
	init_out(&t->out, &jb->out, jb->out.recs.p);
	int fd = openat(t->parent_fd, t->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		jb->out.recs.p[t->rec].extra = errno;
		return;
	}
	walk(&t->out, fd, task_path(t, t->out.path), -2 - t->rec, jb->out.lowers ? &t->cands : NULL, 1);
	close(fd);
}

static void *worker(void *arg) {
	pool_t *p = arg;
	for (;;) {
		size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
		if (i >= p->ntasks) break;
		run_task(p->jb, &p->tasks[i]);
	}
	return NULL;
}

static void *pool_thread(void *arg) {
	worker(arg);
	free_thread_buffers();
	return NULL;
}

static void free_task_out(task_t *t) {
	free(t->out.recs.p);
	free(t->out.xattrs.p);
	free(t->out.bytes.p);
	free(t->out.names.p);
	free(t->out.hits.p);
	free(t->out.ctxs.p);
	t->out.hits.p = t->out.ctxs.p = NULL;
	t->out.recs.p = NULL;
	t->out.xattrs.p = NULL;
	t->out.bytes.p = t->out.names.p = NULL;
}

// A task's output appended to the job's: indices and offsets moved by what comes before it.
static void append_task(out_t *o, task_t *t) {
	out_t *s = &t->out;
	if (s->oom) o->oom = s->oom;
	int32_t rbase = (int32_t)o->recs.len;
	uint32_t xbase = (uint32_t)(o->xattrs.len / XREC), nbase = (uint32_t)o->names.len;
	double bbase = (double)o->bytes.len;
	if (o->oom || o->names.len + s->names.len > UINT32_MAX || o->recs.len + s->recs.len > INT32_MAX ||
	    grow((void **)&o->hits.p, &o->hits.cap, o->hits.len + s->hits.len, sizeof(rec_t)) ||
	    grow((void **)&o->ctxs.p, &o->ctxs.cap, o->ctxs.len + s->ctxs.len, sizeof(rec_t)) ||
	    grow((void **)&o->recs.p, &o->recs.cap, o->recs.len + s->recs.len, sizeof(rec_t)) ||
	    grow((void **)&o->xattrs.p, &o->xattrs.cap, o->xattrs.len + s->xattrs.len, sizeof(double)) ||
	    grow((void **)&o->bytes.p, &o->bytes.cap, o->bytes.len + s->bytes.len, 1) ||
	    grow((void **)&o->names.p, &o->names.cap, o->names.len + s->names.len, 1)) {
		o->oom = o->oom ? o->oom : 1;
		return;
	}
	for (size_t k = 0; k < s->recs.len; k++) {
		rec_t *r = s->recs.p + k;
		r->parent = r->parent <= -2 ? -2 - r->parent : r->parent + rbase;
		r->name_off += nbase;
		r->xfirst += xbase;
	}
	// Hits and contexts name their upper record as entries name their parent.
	recs_t *lower[2] = {&s->hits, &s->ctxs};
	for (int a = 0; a < 2; a++)
		for (size_t k = 0; k < lower[a]->len; k++) {
			rec_t *r = lower[a]->p + k;
			r->parent = r->parent <= -2 ? -2 - r->parent : r->parent + rbase;
			r->xfirst += xbase;
		}
	if (s->hits.len) memcpy(o->hits.p + o->hits.len, s->hits.p, s->hits.len * sizeof(rec_t));
	if (s->ctxs.len) memcpy(o->ctxs.p + o->ctxs.len, s->ctxs.p, s->ctxs.len * sizeof(rec_t));
	o->hits.len += s->hits.len;
	o->ctxs.len += s->ctxs.len;
	o->dirs_read += s->dirs_read;
	for (size_t k = 0; k < s->xattrs.len; k += XREC) {
		double *x = s->xattrs.p + k;
		x[0] += bbase;
		if (x[3] >= 0) x[2] += bbase;
	}
	if (s->recs.len) memcpy(o->recs.p + o->recs.len, s->recs.p, s->recs.len * sizeof(rec_t));
	if (s->xattrs.len) memcpy(o->xattrs.p + o->xattrs.len, s->xattrs.p, s->xattrs.len * sizeof(double));
	if (s->bytes.len) memcpy(o->bytes.p + o->bytes.len, s->bytes.p, s->bytes.len);
	if (s->names.len) memcpy(o->names.p + o->names.len, s->names.p, s->names.len);
	o->recs.len += s->recs.len;
	o->xattrs.len += s->xattrs.len;
	o->bytes.len += s->bytes.len;
	o->names.len += s->names.len;
}

static void walk_tree(job_t *jb, int root_fd, size_t plen) {
	out_t *o = &jb->out;
	open_dir_t *dirs = calloc(1 + LEVELS_MAX * TASKS_ENOUGH, sizeof *dirs);
	size_t ndirs = 0;
	task_t *tasks = NULL;
	size_t ntasks = 0, cap = 0;
	if (!dirs) {
		o->oom = 1;
		close(root_fd);
		return;
	}
	dirs[ndirs++] = (open_dir_t){root_fd, plen == LONG ? NULL : strndup(o->path, plen), plen, -1, {NULL, 0}, 0};
	for (size_t L = 0; L < jb->out.nlowers && !o->oom; L++)
		if (push_cand(&dirs[0].cands, (int32_t)L, jb->out.lowers[L], NULL)) o->oom = 1;
	if (read_level_dir(o, &dirs[0], &tasks, &ntasks, &cap) == 0) {
		// Few subdirectories: read them here too, so their children are what is shared out.
		for (int level = 1; level < LEVELS_MAX && ntasks > 0 && ntasks < TASKS_ENOUGH && !o->oom; level++) {
			task_t *level_tasks = tasks;
			size_t nlevel = ntasks;
			tasks = NULL;
			ntasks = cap = 0;
			for (size_t i = 0; i < nlevel && !o->oom; i++) {
				task_t *t = &level_tasks[i];
				int fd = openat(t->parent_fd, t->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (fd < 0) {
					o->recs.p[t->rec].extra = errno;
					continue;
				}
				char buf[4096];
				size_t clen = task_path(t, buf);
				open_dir_t *d = &dirs[ndirs++];
				*d = (open_dir_t){fd, clen == LONG ? NULL : strndup(buf, clen), clen, t->rec, t->cands, 1};
				t->cands = (cands_t){NULL, 0};
				read_level_dir(o, d, &tasks, &ntasks, &cap);
			}
			for (size_t i = 0; i < nlevel; i++) {
				free(level_tasks[i].name);
				free_cands(&level_tasks[i].cands);
			}
			free(level_tasks);
		}
	}
	if (!o->oom && ntasks > 0) {
		pool_t pool = {jb, tasks, ntasks, 0};
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		// Twice the cores: on a cold cache the walk waits on the disk, and more lookups in flight
		// hide some of that (100k fixture: 145 -> 125 ms cold); warm it is the same 60 ms.
		size_t nthreads = cpus < 1 ? 1 : 2 * cpus > THREADS_MAX ? THREADS_MAX : 2 * (size_t)cpus;
		if (nthreads > ntasks) nthreads = ntasks;
		pthread_t threads[THREADS_MAX];
		size_t started = 0;
		for (size_t i = 1; i < nthreads; i++)
			if (pthread_create(&threads[started], NULL, pool_thread, &pool) == 0) started++;
		worker(&pool);
		for (size_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
		// Each task's output is let go once copied: a 10^6-entry walk holds one copy, not two.
		for (size_t i = 0; i < ntasks; i++) {
			append_task(o, &tasks[i]);
			free_task_out(&tasks[i]);
		}
	}
	for (size_t i = 0; i < ntasks; i++) {
		free(tasks[i].name);
		free_cands(&tasks[i].cands);
		free_task_out(&tasks[i]);
	}
	free(tasks);
	for (size_t i = 0; i < ndirs; i++) {
		close(dirs[i].fd);
		free(dirs[i].path);
		free_cands(&dirs[i].cands);
	}
	free(dirs);
}

// MODE_PATHS: each path (absolute, short) as one record, parent = its index in the list.
static void stat_paths(job_t *jb) {
	out_t *j = &jb->out;
	for (size_t i = 0; i < jb->npaths && !j->oom; i++) {
		rec_t *r = new_rec(j);
		if (!r) return;
		size_t at = j->recs.len - 1;
		r->parent = (int32_t)i;
		struct stat st;
		if (fstatat(AT_FDCWD, jb->paths[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r->stat_err = errno;
			continue;
		}
		fill_stat(r, &st);
		if ((j->flags & F_XATTRS) && !(S_ISCHR(st.st_mode) && st.st_rdev == 0)) {
			where_t w = {-1, NULL, jb->paths[i]};
			read_xattrs(j, &j->recs, at, &w);
		}
	}
}

static mode_t dt_mode(unsigned char t) {
	switch (t) {
	case DT_DIR: return S_IFDIR;
	case DT_REG: return S_IFREG;
	case DT_LNK: return S_IFLNK;
	case DT_FIFO: return S_IFIFO;
	case DT_SOCK: return S_IFSOCK;
	case DT_BLK: return S_IFBLK;
	default: return 0; // DT_CHR (whiteout or not: needs rdev) and DT_UNKNOWN: stat it
	}
}

static int by_ptr(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// MODE_DIRS: for each lower dir, a header record (name length -1, its opaque xattr, its fstat) and
// one record per name with its type; char devices are stat'd (a 0/0 one is a whiteout) and, in a
// dir marked opaque=x, regular files are checked for the whiteout xattr. With a wanted list only
// those names get a record, each with its whole stat (fstatat beneath the open dir: the lookup a
// later lstat of the full path would repeat from /).
static void read_dirs(job_t *jb) {
	out_t *j = &jb->out;
	char opaque_name[64], whiteout_name[64];
	snprintf(opaque_name, sizeof opaque_name, "%sopaque", j->ns_prefix);
	snprintf(whiteout_name, sizeof whiteout_name, "%swhiteout", j->ns_prefix);
	for (size_t i = 0; i < jb->npaths && !j->oom; i++) {
		rec_t *h = new_rec(j);
		if (!h) return;
		size_t hat = j->recs.len - 1;
		h->parent = (int32_t)i;
		h->name_len = -1;
		int fd = open(jb->paths[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			j->recs.p[hat].stat_err = errno;
			continue;
		}
		struct stat dst;
		if (fstat(fd, &dst) == 0) fill_stat(j->recs.p + hat, &dst);
		DIR *d = fdopendir(fd);
		if (!d) {
			j->recs.p[hat].stat_err = errno;
			close(fd);
			continue;
		}
		char **want = jb->wanted ? jb->wanted[i] : NULL;
		size_t nwant = want ? jb->nwanted[i] : 0;
		char val[256];
		// The dir itself, by its fd: no second lookup of its path.
		ssize_t ov = fgetxattr(fd, opaque_name, val, sizeof val);
		int xwhiteouts = 0;
		if (ov >= 0) {
			j->recs.p[hat].xfirst = (uint32_t)(j->xattrs.len / XREC);
			j->recs.p[hat].xcount = 1;
			put_xattr(j, opaque_name, val, ov, 0);
			xwhiteouts = ov == 1 && val[0] == 'x';
		} else if (errno != ENODATA && errno != ENOTSUP) {
			j->recs.p[hat].xattr_err = errno;
		}
		struct dirent *e;
		errno = 0;
		while ((e = readdir(d)) && !j->oom) {
			const char *name = e->d_name;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]))) continue;
			if (want && !bsearch(&name, want, nwant, sizeof(char *), by_ptr)) {
				if (j->progress) j->progress[0] += 1;
				errno = 0;
				continue;
			}
			if (!new_rec(j)) break;
			size_t at = j->recs.len - 1;
			size_t nlen = strlen(name);
			uint32_t off = put_name(j, name, nlen);
			rec_t *r = j->recs.p + at;
			r->parent = (int32_t)hat;
			r->name_off = off;
			r->name_len = (int32_t)nlen;
			mode_t m = want ? 0 : dt_mode(e->d_type);
			struct stat st;
			if (want) {
				if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
					fill_stat(r, &st);
					m = st.st_mode & S_IFMT;
				} else {
					r->stat_err = errno;
					m = e->d_type == DT_CHR ? S_IFCHR : dt_mode(e->d_type) ? dt_mode(e->d_type) : S_IFREG;
					r->rdev = 1;
				}
			} else if (!m) {
				if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
					m = st.st_mode & S_IFMT;
					r->rdev = (double)st.st_rdev;
				} else {
					// Gone, or unreadable: a char device stays one (not a whiteout), else a file.
					r->stat_err = errno;
					m = e->d_type == DT_CHR ? S_IFCHR : S_IFREG;
					r->rdev = 1;
				}
			}
			if (!want || r->stat_err) r->mode = m; // a whole stat keeps its permission bits
			if (xwhiteouts && m == S_IFREG) {
				char p[PATH_MAX + 1];
				if (snprintf(p, sizeof p, "/proc/self/fd/%d/%s", dirfd(d), name) < (int)sizeof p) {
					if (lgetxattr(p, whiteout_name, NULL, 0) >= 0) r->extra = 1;
					// With a wanted list xattr_err is the xattr read's: this check's errno goes negated in extra.
					else if (errno != ENODATA && errno != ENOTSUP) *(want ? &r->extra : &r->xattr_err) = want ? -errno : errno;
				}
			}
			// A wanted name's xattrs too (F_XATTRS), read beneath the open dir: the copy-ups of a
			// big upper are compared with these, and a second pass by path would look each up again.
			int whiteout = (S_ISCHR(m) && r->rdev == 0) || r->extra == 1;
			if (want && (j->flags & F_XATTRS) && !r->stat_err && !whiteout) {
				char p[PATH_MAX + 1];
				if (snprintf(p, sizeof p, "%s/%s", jb->paths[i], name) >= (int)sizeof p)
					snprintf(p, sizeof p, "/proc/self/fd/%d/%s", dirfd(d), name);
				where_t w = {dirfd(d), name, p};
				read_xattrs(j, &j->recs, at, &w);
			}
			if (j->progress) j->progress[0] += 1;
			errno = 0;
		}
		if (errno && !j->oom) j->recs.p[hat].stat_err = errno;
		closedir(d);
	}
}

static void execute(napi_env env, void *data) {
	job_t *j = data;
	out_t *o = &j->out;
	if (j->mode == MODE_TREE) {
		int fd = open(j->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			o->recs.len = 0;
			o->oom = -errno;
			return;
		}
		size_t plen = strlen(j->root);
		while (plen > 1 && j->root[plen - 1] == '/') plen--;
		if (plen < 4000) {
			memcpy(o->path, j->root, plen);
			if (plen == 1) plen = 0; // "/" + "/name" would double the slash
		} else {
			plen = LONG;
		}
		walk_tree(j, fd, plen); // closes fd
	} else if (j->mode == MODE_PATHS) {
		stat_paths(j);
	} else {
		read_dirs(j);
	}
}

static void free_job(napi_env env, job_t *j) {
	free(j->root);
	for (size_t i = 0; i < j->out.nlowers; i++) free(j->out.lowers[i]);
	free(j->out.lowers);
	free(j->out.hits.p);
	free(j->out.ctxs.p);
	for (size_t i = 0; i < j->npaths; i++) free(j->paths[i]);
	free(j->paths);
	if (j->wanted)
		for (size_t i = 0; i < j->npaths; i++) {
			free(j->wanted[i]);
			free(j->wanted_buf[i]);
		}
	free(j->wanted);
	free(j->nwanted);
	free(j->wanted_buf);
	free(j->out.recs.p);
	free(j->out.xattrs.p);
	free(j->out.bytes.p);
	free(j->out.names.p);
	if (j->progress_ref) napi_delete_reference(env, j->progress_ref);
	free(j);
}

static void free_external(napi_env env, void *data, void *hint) {
	free(data);
}

static napi_value f64_array(napi_env env, nums_t *n) {
	napi_value ab, arr;
	size_t bytes = n->len * sizeof(double);
	if (n->len == 0) {
		napi_create_arraybuffer(env, 0, NULL, &ab);
	} else {
		napi_create_external_arraybuffer(env, n->p, bytes, free_external, NULL, &ab);
		n->p = NULL;
	}
	napi_create_typedarray(env, napi_float64_array, n->len, ab, 0, &arr);
	return arr;
}

static napi_value buffer(napi_env env, bytes_t *b) {
	napi_value buf;
	if (b->len == 0) {
		napi_create_buffer(env, 0, NULL, &buf);
	} else {
		napi_create_external_buffer(env, b->len, b->p, free_external, NULL, &buf);
		b->p = NULL;
	}
	return buf;
}

static void complete(napi_env env, napi_status status, void *data) {
	job_t *j = data;
	napi_value result;
	if (j->out.oom) {
		napi_value code, msg;
		int err = j->out.oom < 0 ? -j->out.oom : ENOMEM;
		const char *name = strerrorname_np(err);
		napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &code);
		napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
		napi_create_error(env, code, msg, &result);
		napi_reject_deferred(env, j->deferred, result);
	} else {
		napi_create_object(env, &result);
		nums_t recs = {(double *)j->out.recs.p, j->out.recs.len * REC_DOUBLES, 0};
		j->out.recs.p = NULL;
		napi_set_named_property(env, result, "recs", f64_array(env, &recs));
		napi_set_named_property(env, result, "xattrs", f64_array(env, &j->out.xattrs));
		napi_set_named_property(env, result, "bytes", buffer(env, &j->out.bytes));
		napi_set_named_property(env, result, "names", buffer(env, &j->out.names));
		if (j->out.lowers) {
			nums_t hits = {(double *)j->out.hits.p, j->out.hits.len * REC_DOUBLES, 0};
			nums_t ctxs = {(double *)j->out.ctxs.p, j->out.ctxs.len * REC_DOUBLES, 0};
			j->out.hits.p = j->out.ctxs.p = NULL;
			napi_value dr;
			napi_create_double(env, j->out.dirs_read, &dr);
			napi_set_named_property(env, result, "hits", f64_array(env, &hits));
			napi_set_named_property(env, result, "ctxs", f64_array(env, &ctxs));
			napi_set_named_property(env, result, "dirsRead", dr);
		}
		napi_resolve_deferred(env, j->deferred, result);
	}
	napi_delete_async_work(env, j->work);
	free_job(env, j);
}

static char *copy_buffer(napi_env env, napi_value v) {
	void *data;
	size_t len;
	bool ok;
	if (napi_is_buffer(env, v, &ok) != napi_ok || !ok) return NULL;
	if (napi_get_buffer_info(env, v, &data, &len) != napi_ok || memchr(data, 0, len)) return NULL;
	char *s = malloc(len + 1);
	if (!s) return NULL;
	memcpy(s, data, len);
	s[len] = 0;
	return s;
}

static napi_value bad(napi_env env, job_t *j) {
	free_job(env, j);
	napi_throw_error(env, "EINVAL", "ovl native scan: bad arguments");
	return NULL;
}

// One dir's wanted names: a Buffer of names each ended by a NUL, into a sorted pointer array.
static int wanted_names(napi_env env, napi_value v, job_t *j, size_t i) {
	void *data;
	size_t len;
	bool ok;
	if (napi_is_buffer(env, v, &ok) != napi_ok || !ok) return -1;
	if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return -1;
	if (len && ((char *)data)[len - 1]) return -1;
	char *buf = malloc(len + 1);
	if (!buf) return -1;
	memcpy(buf, data, len);
	j->wanted_buf[i] = buf;
	size_t n = 0;
	for (size_t k = 0; k < len; k++) n += buf[k] == 0;
	char **names = malloc((n ? n : 1) * sizeof(char *));
	if (!names) return -1;
	for (size_t k = 0, at = 0; k < n; k++) {
		names[k] = buf + at;
		at += strlen(buf + at) + 1;
	}
	qsort(names, n, sizeof(char *), by_ptr);
	j->wanted[i] = names;
	j->nwanted[i] = n;
	return 0;
}

// scan(mode, target, ns, flags, progress[, wanted]) -> Promise<{recs, xattrs, bytes, names}>
// target: a Buffer (MODE_TREE) or an array of Buffers; progress: a Float64Array or null;
// wanted (MODE_DIRS): an array as long as target of Buffers (NUL-ended names) or nulls.
napi_value ovl_scan(napi_env env, napi_callback_info info) {
	size_t argc = 6;
	napi_value a[6];
	if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 5) {
		napi_throw_error(env, "EINVAL", "ovl native scan: missing arguments");
		return NULL;
	}
	job_t *j = calloc(1, sizeof *j);
	if (!j) return NULL;
	j->out.seen = &j->seen;
	char ns[16];
	size_t nslen;
	if (napi_get_value_int32(env, a[0], &j->mode) != napi_ok || j->mode < MODE_TREE || j->mode > MODE_DIRS) return bad(env, j);
	if (napi_get_value_string_utf8(env, a[2], ns, sizeof ns, &nslen) != napi_ok) return bad(env, j);
	if (strcmp(ns, "trusted") && strcmp(ns, "user")) return bad(env, j);
	snprintf(j->out.ns_prefix, sizeof j->out.ns_prefix, "%s.overlay.", ns);
	if (napi_get_value_int32(env, a[3], &j->out.flags) != napi_ok) return bad(env, j);
	if (j->mode == MODE_TREE) {
		if (!(j->root = copy_buffer(env, a[1]))) return bad(env, j);
		napi_valuetype lt = napi_undefined;
		if (argc >= 6) napi_typeof(env, a[5], &lt);
		if (lt != napi_null && lt != napi_undefined) {
			uint32_t n;
			if (napi_get_array_length(env, a[5], &n) != napi_ok || n == 0) return bad(env, j);
			if (!(j->out.lowers = calloc(n, sizeof(char *)))) return bad(env, j);
			for (uint32_t i = 0; i < n; i++) {
				napi_value el;
				if (napi_get_element(env, a[5], i, &el) != napi_ok) return bad(env, j);
				if (!(j->out.lowers[i] = copy_buffer(env, el))) return bad(env, j);
				j->out.nlowers = i + 1;
			}
		}
	} else {
		uint32_t n;
		if (napi_get_array_length(env, a[1], &n) != napi_ok) return bad(env, j);
		j->paths = calloc(n ? n : 1, sizeof(char *));
		if (!j->paths) return bad(env, j);
		for (uint32_t i = 0; i < n; i++) {
			napi_value el;
			if (napi_get_element(env, a[1], i, &el) != napi_ok) return bad(env, j);
			if (!(j->paths[i] = copy_buffer(env, el))) return bad(env, j);
			j->npaths = i + 1;
		}
		napi_valuetype wt = napi_undefined;
		if (argc >= 6) napi_typeof(env, a[5], &wt);
		if (j->mode == MODE_DIRS && wt != napi_null && wt != napi_undefined) {
			uint32_t wn;
			if (napi_get_array_length(env, a[5], &wn) != napi_ok || wn != n) return bad(env, j);
			j->wanted = calloc(n ? n : 1, sizeof(char **));
			j->nwanted = calloc(n ? n : 1, sizeof(size_t));
			j->wanted_buf = calloc(n ? n : 1, sizeof(char *));
			if (!j->wanted || !j->nwanted || !j->wanted_buf) return bad(env, j);
			for (uint32_t i = 0; i < n; i++) {
				napi_value el;
				napi_valuetype et;
				if (napi_get_element(env, a[5], i, &el) != napi_ok) return bad(env, j);
				napi_typeof(env, el, &et);
				if (et == napi_null || et == napi_undefined) continue;
				if (wanted_names(env, el, j, i)) return bad(env, j);
			}
		}
	}
	napi_valuetype pt;
	napi_typeof(env, a[4], &pt);
	if (pt != napi_null && pt != napi_undefined) {
		napi_typedarray_type t;
		size_t len;
		void *data;
		if (napi_get_typedarray_info(env, a[4], &t, &len, &data, NULL, NULL) != napi_ok || t != napi_float64_array || len < 1) return bad(env, j);
		j->out.progress = data;

		napi_create_reference(env, a[4], 1, &j->progress_ref);
	}
	napi_value promise, name;
	napi_create_promise(env, &j->deferred, &promise);
	napi_create_string_utf8(env, "ovl-scan", NAPI_AUTO_LENGTH, &name);
	napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
	napi_queue_async_work(env, j->work);
	return promise;
}
