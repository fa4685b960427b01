// spawn(file, argv, env, cwd, fds): runs a tool (mount(8)) with posix_spawnp and waits for it off
// the main thread. Node's child_process costs ~10 ms per command here before the child even runs
// (loading child_process, net and streams, then a fork of the whole heap); posix_spawn is a
// vfork-style clone. Same rules as child_process: an argv array, no shell, stdin /dev/null,
// stdout and stderr into one pipe (interleaved as written), fds[i] as the child's fd 3+i, signal
// dispositions and mask reset to defaults (Node ignores SIGPIPE; that would survive the exec).
// Resolves {status, signal, output}; rejects with the errno `code` when the tool cannot start.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
	napi_async_work work;
	napi_deferred deferred;
	pid_t pid;
	int out;
	char *buf;
	size_t len, cap;
	int status;
	int read_err;
	int wait_err;
} spawn_job;

static void free_strings(char **v) {
	if (!v) return;
	for (char **p = v; *p; p++) free(*p);
	free(v);
}

// A JS array of strings as a NULL-ended char* vector (UTF-8; NUL inside a string refused).
static char **string_vector(napi_env env, napi_value arr) {
	uint32_t n;
	if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
	char **v = calloc(n + 1, sizeof *v);
	if (!v) return NULL;
	for (uint32_t i = 0; i < n; i++) {
		napi_value item;
		size_t len;
		if (napi_get_element(env, arr, i, &item) != napi_ok ||
		    napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) {
			free_strings(v);
			return NULL;
		}
		v[i] = malloc(len + 1);
		if (!v[i] || napi_get_value_string_utf8(env, item, v[i], len + 1, &len) != napi_ok || strlen(v[i]) != len) {
			free_strings(v);
			return NULL;
		}
	}
	return v;
}

static void execute(napi_env env, void *data) {
	spawn_job *j = data;
	for (;;) {
		if (j->len == j->cap) {
			size_t cap = j->cap ? j->cap * 2 : 4096;
			char *b = realloc(j->buf, cap);
			if (!b) {
				j->read_err = ENOMEM;
				break;
			}
			j->buf = b;
			j->cap = cap;
		}
		ssize_t n = read(j->out, j->buf + j->len, j->cap - j->len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) {
			if (n < 0) j->read_err = errno;
			break;
		}
		j->len += (size_t)n;
	}
	close(j->out);
	int r;
	while ((r = waitpid(j->pid, &j->status, 0)) < 0 && errno == EINTR) {
	}
	if (r < 0) j->wait_err = errno;
}

static napi_value errno_error(napi_env env, int err) {
	const char *name = strerrorname_np(err);
	napi_value code, message, error;
	napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
	napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
	napi_create_error(env, code, message, &error);
	return error;
}

static void complete(napi_env env, napi_status st, void *data) {
	spawn_job *j = data;
	if (j->wait_err) {
		// Without its status the run cannot be called a success (nor anything else).
		napi_reject_deferred(env, j->deferred, errno_error(env, j->wait_err));
		napi_delete_async_work(env, j->work);
		free(j->buf);
		free(j);
		return;
	}
	napi_value result, status, sig, output;
	napi_create_object(env, &result);
	napi_create_int32(env, WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1, &status);
	napi_create_int32(env, WIFSIGNALED(j->status) ? WTERMSIG(j->status) : 0, &sig);
	napi_create_buffer_copy(env, j->len, j->len ? j->buf : "", NULL, &output);
	napi_set_named_property(env, result, "status", status);
	napi_set_named_property(env, result, "signal", sig);
	napi_set_named_property(env, result, "output", output);
	napi_resolve_deferred(env, j->deferred, result);
	napi_delete_async_work(env, j->work);
	free(j->buf);
	free(j);
}

static napi_value reject_errno(napi_env env, napi_deferred d, napi_value promise, int err) {
	napi_reject_deferred(env, d, errno_error(env, err));
	return promise;
}

static void reap(pid_t pid) {
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
}

// fds[i] to the child's 3+i: a parallel move. A move is made once its target is no longer where a
// source still to be moved sits; a cycle is broken by parking one source on `spare`. An fd
// already in place goes out and back through `spare + 1` (dup2 onto itself would keep
// FD_CLOEXEC). Returns 0 or the errno of the first action that could not be added.
static int add_moves(posix_spawn_file_actions_t *fa, const int *fds, uint32_t n, int spare) {
	int *at = malloc((n + 1) * sizeof *at);
	char *done = calloc(n + 1, 1);
	int rc = at && done ? 0 : ENOMEM;
	if (rc == 0) memcpy(at, fds, n * sizeof *at);
	for (uint32_t left = n; rc == 0 && left > 0;) {
		uint32_t before = left;
		for (uint32_t i = 0; rc == 0 && i < n; i++) {
			if (done[i]) continue;
			int target = 3 + (int)i;
			if (at[i] == target) {
				rc = posix_spawn_file_actions_adddup2(fa, target, spare + 1);
				if (rc == 0) rc = posix_spawn_file_actions_adddup2(fa, spare + 1, target);
				if (rc == 0) rc = posix_spawn_file_actions_addclose(fa, spare + 1);
			} else {
				int blocked = 0;
				for (uint32_t k = 0; k < n && !blocked; k++) blocked = !done[k] && k != i && at[k] == target;
				if (blocked) continue;
				rc = posix_spawn_file_actions_adddup2(fa, at[i], target);
				if (rc == 0 && at[i] == spare) rc = posix_spawn_file_actions_addclose(fa, spare);
			}
			done[i] = 1;
			left--;
		}
		if (rc == 0 && left == before) {
			// Only cycles are left: park the first source still to move.
			for (uint32_t i = 0; i < n; i++)
				if (!done[i]) {
					rc = posix_spawn_file_actions_adddup2(fa, at[i], spare);
					at[i] = spare;
					break;
				}
		}
	}
	free(at);
	free(done);
	return rc;
}

napi_value ovl_spawn(napi_env env, napi_callback_info info) {
	size_t argc = 5;
	napi_value a[5];
	napi_value promise;
	napi_deferred deferred;
	if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 5) {
		napi_throw_error(env, "EINVAL", "ovl native: spawn(file, argv, env, cwd, fds)");
		return NULL;
	}
	char file[4096];
	size_t flen;
	char cwd[4096];
	size_t clen = 0;
	napi_valuetype ct;
	napi_typeof(env, a[3], &ct);
	if (napi_get_value_string_utf8(env, a[0], file, sizeof file, &flen) != napi_ok || flen >= sizeof file - 1 ||
	    (ct == napi_string && (napi_get_value_string_utf8(env, a[3], cwd, sizeof cwd, &clen) != napi_ok ||
	                           clen >= sizeof cwd - 1))) {
		napi_throw_error(env, "EINVAL", "ovl native: bad spawn arguments");
		return NULL;
	}
	char **argv = string_vector(env, a[1]);
	char **envp = string_vector(env, a[2]);
	uint32_t nfds = 0;
	napi_get_array_length(env, a[4], &nfds);
	int *fds = calloc(nfds + 1, sizeof *fds);
	int ok = argv && envp && fds;
	int highest = 2;
	for (uint32_t i = 0; ok && i < nfds; i++) {
		napi_value v;
		// Below 3 is stdio, which the pipe and /dev/null replace first.
		ok = napi_get_element(env, a[4], i, &v) == napi_ok && napi_get_value_int32(env, v, &fds[i]) == napi_ok &&
		     fds[i] >= 3;
		if (ok && fds[i] > highest) highest = fds[i];
	}
	if (!ok) {
		free_strings(argv);
		free_strings(envp);
		free(fds);
		napi_throw_error(env, "EINVAL", "ovl native: bad spawn arguments");
		return NULL;
	}
	napi_create_promise(env, &deferred, &promise);

	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		int err = errno;
		free_strings(argv);
		free_strings(envp);
		free(fds);
		return reject_errno(env, deferred, promise, err);
	}
	if (pipefd[1] > highest) highest = pipefd[1];
	if (pipefd[0] > highest) highest = pipefd[0];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	int err = posix_spawnattr_setsigdefault(&attr, &all);
	if (!err) err = posix_spawnattr_setsigmask(&attr, &none);
	if (!err) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	if (!err && ct == napi_string) err = posix_spawn_file_actions_addchdir_np(&fa, cwd);
	if (!err) err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!err) err = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	if (!err) err = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	// Spares above every fd involved (sources, targets, pipe): nothing there is needed in the child.
	int spare = (highest > 2 + (int)nfds ? highest : 2 + (int)nfds) + 1;
	if (!err) err = add_moves(&fa, fds, nfds, spare);
	pid_t pid;
	if (!err) err = posix_spawnp(&pid, file, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	free_strings(argv);
	free_strings(envp);
	free(fds);
	if (err != 0) {
		close(pipefd[0]);
		return reject_errno(env, deferred, promise, err);
	}
	spawn_job *j = calloc(1, sizeof *j);
	if (!j) {
		// The child runs regardless: wait for it here rather than leave a zombie.
		close(pipefd[0]);
		reap(pid);
		return reject_errno(env, deferred, promise, ENOMEM);
	}
	j->deferred = deferred;
	j->pid = pid;
	j->out = pipefd[0];
	napi_value name;
	napi_create_string_utf8(env, "ovl-spawn", NAPI_AUTO_LENGTH, &name);
	if (napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok) {
		close(pipefd[0]);
		reap(pid);
		free(j);
		return reject_errno(env, deferred, promise, ENOMEM);
	}
	if (napi_queue_async_work(env, j->work) != napi_ok) {
		napi_delete_async_work(env, j->work);
		close(pipefd[0]);
		reap(pid);
		free(j);
		return reject_errno(env, deferred, promise, ENOMEM);
	}
	return promise;
}
