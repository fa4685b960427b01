// ovl's native helper: the few syscalls Node cannot make with exact path bytes or beneath a
// directory fd (mknodat, l*xattr on byte paths, openat2, renameat2, umount2). Every function here
// is synchronous, takes Buffers for paths, and throws an Error whose `code` is the errno name; the
// tree scanner (scan.c) and the tool runner (spawn.c) return promises.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CHECK(call)                                                                                \
	do {                                                                                           \
		if ((call) != napi_ok) {                                                                   \
			napi_throw_error(env, "EINVAL", "ovl native: bad arguments");                          \
			return NULL;                                                                           \
		}                                                                                          \
	} while (0)

// A path argument: a Buffer copied into a NUL-terminated C string (paths never hold NUL).
typedef struct {
	char *s;
} cpath;

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
	const char *name = strerrorname_np(err);
	char msg[256];
	snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
	napi_value code, message, error, num, sys;
	napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
	napi_create_error(env, code, message, &error);
	napi_create_int32(env, -err, &num);
	napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
	napi_set_named_property(env, error, "errno", num);
	napi_set_named_property(env, error, "syscall", sys);
	napi_throw(env, error);
	return NULL;
}

static int get_path(napi_env env, napi_value v, cpath *out) {
	void *data;
	size_t len;
	bool is_buffer;
	if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return -1;
	if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return -1;
	if (memchr(data, 0, len) != NULL) return -1;
	out->s = malloc(len + 1);
	if (!out->s) return -1;
	memcpy(out->s, data, len);
	out->s[len] = 0;
	return 0;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t size) {
	size_t len;
	return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok && len < size - 1 ? 0 : -1;
}

static napi_value args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
	size_t argc = want;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
		napi_throw_error(env, "EINVAL", "ovl native: missing arguments");
		return NULL;
	}
	return argv[0];
}

#define BAD_ARGS()                                                                                 \
	do {                                                                                           \
		napi_throw_error(env, "EINVAL", "ovl native: bad arguments");                              \
		return NULL;                                                                               \
	} while (0)

// openat2(dirfd, path, flags, mode, resolve) -> fd
static napi_value js_openat2(napi_env env, napi_callback_info info) {
	napi_value a[5];
	if (!args(env, info, 5, a)) return NULL;
	int32_t dirfd, flags, mode, resolve;
	cpath p;
	CHECK(napi_get_value_int32(env, a[0], &dirfd));
	CHECK(napi_get_value_int32(env, a[2], &flags));
	CHECK(napi_get_value_int32(env, a[3], &mode));
	CHECK(napi_get_value_int32(env, a[4], &resolve));
	if (get_path(env, a[1], &p)) BAD_ARGS();
	struct open_how how = {.flags = (uint64_t)(uint32_t)flags | O_CLOEXEC, .mode = (uint64_t)(flags & (O_CREAT | O_TMPFILE) ? mode : 0), .resolve = (uint64_t)(uint32_t)resolve};
	long fd = syscall(SYS_openat2, dirfd, p.s, &how, sizeof how);
	int err = errno;
	free(p.s);
	if (fd < 0) return throw_errno(env, err, "openat2");
	napi_value r;
	napi_create_int32(env, (int32_t)fd, &r);
	return r;
}

// mknodat(dirfd, name, mode, major, minor)
static napi_value js_mknodat(napi_env env, napi_callback_info info) {
	napi_value a[5];
	if (!args(env, info, 5, a)) return NULL;
	int32_t dirfd, mode, major_, minor_;
	cpath p;
	CHECK(napi_get_value_int32(env, a[0], &dirfd));
	CHECK(napi_get_value_int32(env, a[2], &mode));
	CHECK(napi_get_value_int32(env, a[3], &major_));
	CHECK(napi_get_value_int32(env, a[4], &minor_));
	if (get_path(env, a[1], &p)) BAD_ARGS();
	int rc = mknodat(dirfd, p.s, (mode_t)mode, makedev((unsigned)major_, (unsigned)minor_));
	int err = errno;
	free(p.s);
	if (rc < 0) return throw_errno(env, err, "mknodat");
	return NULL;
}

// renameat2(olddirfd, old, newdirfd, new, flags)
static napi_value js_renameat2(napi_env env, napi_callback_info info) {
	napi_value a[5];
	if (!args(env, info, 5, a)) return NULL;
	int32_t odir, ndir, flags;
	cpath o, n;
	CHECK(napi_get_value_int32(env, a[0], &odir));
	CHECK(napi_get_value_int32(env, a[2], &ndir));
	CHECK(napi_get_value_int32(env, a[4], &flags));
	if (get_path(env, a[1], &o)) BAD_ARGS();
	if (get_path(env, a[3], &n)) {
		free(o.s);
		BAD_ARGS();
	}
	long rc = syscall(SYS_renameat2, odir, o.s, ndir, n.s, (unsigned)flags);
	int err = errno;
	free(o.s);
	free(n.s);
	if (rc < 0) return throw_errno(env, err, "renameat2");
	return NULL;
}

// lgetxattr(path, name) -> Buffer | null (ENODATA)
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
	napi_value a[2];
	if (!args(env, info, 2, a)) return NULL;
	char name[XATTR_NAME_MAX + 1];
	cpath p;
	if (get_string(env, a[1], name, sizeof name)) BAD_ARGS();
	if (get_path(env, a[0], &p)) BAD_ARGS();
	for (;;) {
		ssize_t size = lgetxattr(p.s, name, NULL, 0);
		if (size < 0) {
			int err = errno;
			free(p.s);
			if (err == ENODATA) {
				napi_value nul;
				napi_get_null(env, &nul);
				return nul;
			}
			return throw_errno(env, err, "lgetxattr");
		}
		void *data;
		napi_value buf;
		if (napi_create_buffer(env, (size_t)size, &data, &buf) != napi_ok) {
			free(p.s);
			return NULL;
		}
		ssize_t got = size == 0 ? 0 : lgetxattr(p.s, name, data, (size_t)size);
		if (got < 0 && errno == ERANGE) continue; // grew between the calls
		int err = errno;
		if (got < 0) {
			free(p.s);
			return throw_errno(env, err, "lgetxattr");
		}
		free(p.s);
		if (got == size) return buf;
		napi_value slice;
		void *copy;
		napi_create_buffer_copy(env, (size_t)got, data, &copy, &slice);
		return slice;
	}
}

// llistxattr(path) -> string[]
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
	napi_value a[1];
	if (!args(env, info, 1, a)) return NULL;
	cpath p;
	if (get_path(env, a[0], &p)) BAD_ARGS();
	char *list = NULL;
	ssize_t size;
	for (;;) {
		size = llistxattr(p.s, NULL, 0);
		if (size <= 0) break;
		list = realloc(list, (size_t)size);
		ssize_t got = llistxattr(p.s, list, (size_t)size);
		if (got < 0 && errno == ERANGE) continue;
		size = got;
		break;
	}
	int err = errno;
	free(p.s);
	if (size < 0) {
		free(list);
		if (err == ENOTSUP) size = 0;
		else return throw_errno(env, err, "llistxattr");
	}
	napi_value arr;
	napi_create_array(env, &arr);
	uint32_t i = 0;
	for (ssize_t off = 0; off < size;) {
		size_t len = strnlen(list + off, (size_t)(size - off));
		napi_value s;
		napi_create_string_utf8(env, list + off, len, &s);
		napi_set_element(env, arr, i++, s);
		off += (ssize_t)len + 1;
	}
	free(list);
	return arr;
}

// lsetxattr(path, name, value, flags)
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
	napi_value a[4];
	if (!args(env, info, 4, a)) return NULL;
	char name[XATTR_NAME_MAX + 1];
	int32_t flags;
	void *data;
	size_t len;
	bool is_buffer;
	cpath p;
	if (get_string(env, a[1], name, sizeof name)) BAD_ARGS();
	CHECK(napi_is_buffer(env, a[2], &is_buffer));
	if (!is_buffer) BAD_ARGS();
	CHECK(napi_get_buffer_info(env, a[2], &data, &len));
	CHECK(napi_get_value_int32(env, a[3], &flags));
	if (get_path(env, a[0], &p)) BAD_ARGS();
	int rc = lsetxattr(p.s, name, data, len, flags);
	int err = errno;
	free(p.s);
	if (rc < 0) return throw_errno(env, err, "lsetxattr");
	return NULL;
}

// lremovexattr(path, name); ENODATA (already absent) is not an error.
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
	napi_value a[2];
	if (!args(env, info, 2, a)) return NULL;
	char name[XATTR_NAME_MAX + 1];
	cpath p;
	if (get_string(env, a[1], name, sizeof name)) BAD_ARGS();
	if (get_path(env, a[0], &p)) BAD_ARGS();
	int rc = lremovexattr(p.s, name);
	int err = errno;
	free(p.s);
	if (rc < 0 && err != ENODATA) return throw_errno(env, err, "lremovexattr");
	return NULL;
}

// umount2(path, flags)
static napi_value js_umount2(napi_env env, napi_callback_info info) {
	napi_value a[2];
	if (!args(env, info, 2, a)) return NULL;
	int32_t flags;
	cpath p;
	CHECK(napi_get_value_int32(env, a[1], &flags));
	if (get_path(env, a[0], &p)) BAD_ARGS();
	int rc = umount2(p.s, flags);
	int err = errno;
	free(p.s);
	if (rc < 0) return throw_errno(env, err, "umount2");
	return NULL;
}

// realpaths(paths): for each Buffer, realpath(3) and the stat(2) mode of what it names: {real,
// mode}, or {code} (the errno name). One call for a mount's 500 layers instead of two JS calls
// each (~17 us of wrapping per path against ~4 us of syscalls).
static napi_value js_realpaths(napi_env env, napi_callback_info info) {
	napi_value a[1];
	if (!args(env, info, 1, a)) return NULL;
	uint32_t n;
	CHECK(napi_get_array_length(env, a[0], &n));
	napi_value out;
	CHECK(napi_create_array_with_length(env, n, &out));
	for (uint32_t i = 0; i < n; i++) {
		napi_value item, result;
		cpath p;
		CHECK(napi_get_element(env, a[0], i, &item));
		// A name holding a NUL (a mangled stack file) names nothing: EINVAL, as realpath would say.
		char *real = NULL;
		int err = EINVAL;
		if (get_path(env, item, &p) == 0) {
			real = realpath(p.s, NULL);
			err = errno;
			free(p.s);
		}
		struct stat st;
		if (real && stat(real, &st) < 0) {
			err = errno;
			free(real);
			real = NULL;
		}
		napi_create_object(env, &result);
		if (real) {
			napi_value buf, mode;
			napi_create_buffer_copy(env, strlen(real), real, NULL, &buf);
			napi_create_uint32(env, st.st_mode, &mode);
			napi_set_named_property(env, result, "real", buf);
			napi_set_named_property(env, result, "mode", mode);
			free(real);
		} else {
			const char *name = strerrorname_np(err);
			napi_value code;
			napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
			napi_set_named_property(env, result, "code", code);
		}
		CHECK(napi_set_element(env, out, i, result));
	}
	return out;
}

// utimensat(dirfd, name, atimeSec, atimeNsec, mtimeSec, mtimeNsec): exact nanoseconds (Node's
// utimes takes seconds as a double, ~240 ns off today), never following a symlink.
static napi_value js_utimensat(napi_env env, napi_callback_info info) {
	napi_value a[6];
	if (!args(env, info, 6, a)) return NULL;
	int32_t dir;
	int64_t v[4];
	cpath p;
	CHECK(napi_get_value_int32(env, a[0], &dir));
	for (int i = 0; i < 4; i++) CHECK(napi_get_value_int64(env, a[2 + i], &v[i]));
	if (get_path(env, a[1], &p)) BAD_ARGS();
	struct timespec ts[2] = {{.tv_sec = v[0], .tv_nsec = v[1]}, {.tv_sec = v[2], .tv_nsec = v[3]}};
	int rc = utimensat(dir, p.s, ts, AT_SYMLINK_NOFOLLOW);
	int err = errno;
	free(p.s);
	if (rc < 0) return throw_errno(env, err, "utimensat");
	return NULL;
}

// flock(fd, op): the lock dies with the process, so a killed ovl never leaves a stale one.
static napi_value js_flock(napi_env env, napi_callback_info info) {
	napi_value a[2];
	if (!args(env, info, 2, a)) return NULL;
	int32_t fd, op;
	CHECK(napi_get_value_int32(env, a[0], &fd));
	CHECK(napi_get_value_int32(env, a[1], &op));
	if (flock(fd, op) < 0) return throw_errno(env, errno, "flock");
	return NULL;
}

// seekEnd(fd): lseek(fd, 0, SEEK_END). On /dev/kmsg it skips the whole ring buffer at once (Node
// has no lseek: reading it to the end is a read(2) per record, thousands on a long-running host).
static napi_value js_seek_end(napi_env env, napi_callback_info info) {
	napi_value a[1];
	if (!args(env, info, 1, a)) return NULL;
	int32_t fd;
	CHECK(napi_get_value_int32(env, a[0], &fd));
	if (lseek(fd, 0, SEEK_END) < 0) return throw_errno(env, errno, "lseek");
	return NULL;
}

napi_value ovl_scan(napi_env env, napi_callback_info info); // native/scan.c
napi_value ovl_spawn(napi_env env, napi_callback_info info); // native/spawn.c

static napi_value init(napi_env env, napi_value exports) {
#ifdef __GLIBC__
	// A scan's big arrays (a walk task's records, hits, names) mmapped from 64 KiB, and the
	// threshold fixed: glibc's moving one put them in the pool threads' heaps, where the tasks'
	// freed outputs stayed resident while the joined copy grew (1M-entry walk: 294 -> 210 MB).
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
#endif
	napi_property_descriptor props[] = {
		{"openat2", NULL, js_openat2, NULL, NULL, NULL, napi_default, NULL},
		{"mknodat", NULL, js_mknodat, NULL, NULL, NULL, napi_default, NULL},
		{"renameat2", NULL, js_renameat2, NULL, NULL, NULL, napi_default, NULL},
		{"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
		{"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL},
		{"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
		{"lremovexattr", NULL, js_lremovexattr, NULL, NULL, NULL, napi_default, NULL},
		{"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_default, NULL},
		{"realpaths", NULL, js_realpaths, NULL, NULL, NULL, napi_default, NULL},
		{"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
		{"seekEnd", NULL, js_seek_end, NULL, NULL, NULL, napi_default, NULL},
		{"utimensat", NULL, js_utimensat, NULL, NULL, NULL, napi_default, NULL},
		{"scan", NULL, ovl_scan, NULL, NULL, NULL, napi_default, NULL},
		{"spawn", NULL, ovl_spawn, NULL, NULL, NULL, napi_default, NULL},
	};
	napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
