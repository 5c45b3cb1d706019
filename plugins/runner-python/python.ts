/**
 * The Python the runner starts. Kept as strings so the plugin ships as plain modules.
 *
 * PREAMBLE runs first in every process (`python -E -s -c PREAMBLE mode cgroupProcs memoryBytes uid
 * nproc nEnv nArgs hide ...rest`; plain argv, because importing json would cost a cold start ~6 ms): it applies the limits
 * that must be set from inside before any user code runs (join the pids cgroup, hide the `hide`
 * folders (':'-separated; see HIDE_RULE), RLIMIT_AS, RLIMIT_NPROC, drop to the session's uid, umask 077),
 * its own imports made with the session directory off sys.path (no module a task planted there is
 * imported in their place; it is put back for the task's code),
 * then either executes one task read from stdin (cold mode) or becomes a warm worker (WORKER, rest
 * being its source and maxOutputBytes).
 *
 * A cold task's stdin is its task.env (nEnv key and value pairs) and task.args (nArgs), each string
 * followed by a NUL byte (neither may contain one), then, in mode execf, its task.files as one JSON
 * line, then its source. Never on the command line: /proc/<pid>/cmdline is readable by every user.
 *
 * Cold mode reports an uncaught exception on fd 3 (moved first to a close-on-exec descriptor, so
 * programs the task runs do not inherit it) as one line `memory|error<TAB>type<TAB>message`, never by
 * what the task printed: stderr is the task's to write, and the word MemoryError in it says nothing.
 * The message is whole, bounded at maxOutputBytes (the argv rest of a cold run) as a warm reply's is,
 * with backslash, newline, tab and CR escaped as \\, \n, \t, \r (parseReport in runner.ts).
 */
/**
 * Whether an uncaught exception is the memory limit (RLIMIT_AS) — only what the process can know:
 * a MemoryError; an OSError with errno ENOMEM (mmap, os.fork/posix_spawn, anything the kernel
 * refuses for want of address space); a thread that could not start ("can't start new thread" does
 * not say why: RLIMIT_NPROC and the pids cgroup cause it too) only when the address space in use
 * (VmSize) leaves no room for one more thread stack under RLIMIT_AS.
 */
export const MEMORY_RULE = String.raw`
def _limit_memory(e):
    if isinstance(e, MemoryError):
        return True
    if isinstance(e, OSError) and e.errno == errno.ENOMEM:
        return True
    if isinstance(e, RuntimeError) and e.args == ("can't start new thread",):
        try:
            limit = resource.getrlimit(resource.RLIMIT_AS)[0]
            if limit == resource.RLIM_INFINITY:
                return False
            import threading
            stack = threading.stack_size() or resource.getrlimit(resource.RLIMIT_STACK)[0]
            if stack == resource.RLIM_INFINITY:
                stack = 0
            with open('/proc/self/status') as f:
                vm = [int(l.split()[1]) * 1024 for l in f if l.startswith('VmSize:')][0]
            return vm + stack > limit
        except BaseException:
            return False
    return False
`;

/**
 * Hides folders of Unix sockets (/run) from a task: an empty read-only tmpfs mounted over each, in
 * the private mount namespace `unshare -n -m --propagation private` gave the process, while it is
 * still root (the session's uid cannot unmount it). Raises OSError naming the folder when a mount fails:
 * the task then does not run, never runs with the sockets reachable.
 */
export const HIDE_RULE = String.raw`
def _hide(folders):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for d in folders:
        # MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        if libc.mount(b'tmpfs', d.encode(), b'tmpfs', 15, b'size=4k,nr_inodes=1,mode=755') != 0:
            e = ctypes.get_errno()
            raise OSError(e, 'runner-python: cannot hide %s (mount tmpfs): %s' % (d, os.strerror(e)))
`;

export const PREAMBLE = String.raw`
import sys
# -c puts '' (the working directory: the session's, which its uid writes) first on sys.path. Left
# out while the launcher imports what it uses (as root until the uid drop), so that no module a task
# planted there (resource.py, ctypes/, json.py) is imported in its place; put back just before the
# task's code (cold) or after the worker's imports (WORKER), so that a task imports its own modules.
_path0 = sys.path.pop(0) if sys.path[:1] == [''] else None
import os, resource, errno
_mode, _cg, _mem, _uid, _nproc, _nenv, _nargs, _hidden = sys.argv[1:9]
_rest = sys.argv[9:]
if _cg:
    with open(_cg, 'w') as _f:
        _f.write(str(os.getpid()))
if _hidden:
${HIDE_RULE.trim().replace(/\n/g, '\n    ').replace(/^/, '    ')}
    _hide(_hidden.split(':'))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if _mem != '0':
    resource.setrlimit(resource.RLIMIT_AS, (int(_mem), int(_mem)))
if _uid:
    os.setgroups([])
    os.setgid(int(_uid))
    os.setuid(int(_uid))
# What the task creates is private to its uid (0600 files, 0700 folders), in the shared /tmp and
# /dev/shm as well as in its own directory: another session's uid cannot read it there.
os.umask(0o077)
if _nproc != '0':
    resource.setrlimit(resource.RLIMIT_NPROC, (int(_nproc), int(_nproc)))
# stdout and stderr are read as UTF-8, so they are written as UTF-8 whatever the locale, and a lone
# surrogate (a str made from bytes) printed to stdout is written as U+FFFD instead of raising
# UnicodeEncodeError or becoming a raw byte (stderr keeps Python's backslashreplace): the same text
# warm and cold (the warm worker's capture takes this encoding and handler).
def _fffd(e):
    if isinstance(e, UnicodeEncodeError):
        return b'\xef\xbf\xbd' * (e.end - e.start), e.end  # U+FFFD as bytes: the UTF-8 encoder takes only ASCII text back
    raise e
import codecs
codecs.register_error('limit-graph.fffd', _fffd)
if sys.stdout is not None:
    sys.stdout.reconfigure(encoding='utf-8', errors='limit-graph.fffd')
if sys.stderr is not None:
    sys.stderr.reconfigure(encoding='utf-8')
if _mode != 'worker':
    # A cold run's argv rest is maxOutputBytes (bounds the reported message; the boot probes give none).
    _cap = int(_rest[0]) if _rest else 4096
    _n = 2 * int(_nenv)
    # Bytes, decoded as the UTF-8 Node wrote: text mode would turn a \r in a value into \n.
    _in = sys.stdin.buffer.read().decode('utf-8').split('\0', _n + int(_nargs))
    _src = _in.pop()
    # task.env: applied only now, after the uid drop, so it never reaches a root process or the loader.
    for _i in range(0, _n, 2):
        os.environ[_in[_i]] = _in[_i + 1]
    _rest = _in[_n:]
    del _in
# task.files (mode execf: a JSON line before the source), written as the session's uid: a link the
# session planted leads only where that uid may write anyway.
if _mode == 'execf':
    import json
    _files, _src = _src.split('\n', 1)
    for _name, _content in json.loads(_files).items():
        os.makedirs(os.path.dirname(_name), mode=0o700, exist_ok=True)
        with open(os.open(_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as _f:
            _f.write(_content)
    _mode = 'exec'
if _mode == 'exec':
    try:
        _rep = os.dup(3)
        os.close(3)
    except OSError:
        _rep = -1  # started without a report pipe: nothing is reported
    sys.stdin.close()
    sys.stdin = open(os.devnull)
    sys.argv = ['<task>'] + _rest
    # The task imports its own modules; the launcher's imports are done.
    if _path0 is not None:
        sys.path.insert(0, _path0)
    _g = {'__name__': '__main__', '__builtins__': __builtins__}
    try:
        exec(compile(_src, '<task>', 'exec'), _g)
    except SystemExit:
        raise
    except BaseException as _e:
        # Reported before the traceback is printed: printing can fail when memory is short. The
        # message whole (as a warm reply gives it), bounded at maxOutputBytes as a warm one is, with
        # backslash, newline, tab and CR escaped so that the report stays one line.
        try:
            ${MEMORY_RULE.trim().replace(/\n/g, '\n            ')}
            _mem = _limit_memory(_e)
        except BaseException:
            _mem = isinstance(_e, MemoryError)
        _kind = 'memory' if _mem else 'error'
        try:
            _msg = str(_e)
            _b = _msg.encode('utf-8', 'surrogatepass')
            if len(_b) > _cap:
                _msg = '%s\n[limit-graph: message truncated at maxOutputBytes=%d; %d bytes dropped]' % (_b[:_cap].decode('utf-8', 'replace'), _cap, len(_b) - _cap)
            _msg = _msg.replace('\\', '\\\\').replace('\n', '\\n').replace('\t', '\\t').replace('\r', '\\r')
            os.write(_rep, ('%s\t%s\t%s\n' % (_kind, type(_e).__name__, _msg)).encode('utf-8', 'limit-graph.fffd'))
        except BaseException:
            try:
                os.write(_rep, ('%s\t%s\t\n' % (_kind, type(_e).__name__)).encode('utf-8', 'replace'))
            except BaseException:
                pass
        try:
            import linecache, traceback
            linecache.cache['<task>'] = (len(_src), None, _src.splitlines(True), '<task>')
            traceback.print_exception(type(_e), _e, _e.__traceback__.tb_next)
            sys.stderr.flush()
        finally:
            os._exit(2 if _mem else 1)
else:
    exec(compile(_rest[0], '<limit-worker>', 'exec'), {'__name__': '__limit_worker__', '__builtins__': __builtins__, 'CONFIG': {'maxOutputBytes': int(_rest[1]), 'path0': _path0}})
`;

/**
 * The warm worker: JSON lines in on (a dup of) stdin, JSON lines out on (a close-on-exec dup of)
 * fd 3, so user code that prints, reads stdin or writes to fd 1/2 cannot corrupt the protocol.
 * Globals persist between requests; that is the session's memory.
 */
export const WORKER = String.raw`
import sys, os, io, json, re, ast, traceback, linecache, errno, resource, fcntl, stat, struct, termios, time
MAX = CONFIG['maxOutputBytes']
# The session directory back on sys.path (the preamble left it off), after the worker's own imports:
# the tasks import their own modules, but no module they plant replaces one the worker uses.
if CONFIG['path0'] is not None:
    sys.path.insert(0, CONFIG['path0'])
${MEMORY_RULE}
proto_in = io.open(os.dup(0), 'r', encoding='utf-8', newline='\n')
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
# The reply channel moves off fd 3 to a close-on-exec descriptor (as a cold run's report pipe does):
# a task writing to fd 3, or a program it starts, does not reach it by accident.
proto_out = io.open(os.dup(3), 'w', encoding='utf-8', newline='\n')
os.close(3)
sys.stdin = io.StringIO('')

# What a task writes to sys.stdout/sys.stderr goes, as it is written (flushed), to the pipes of the
# worker's fd 1/2 — through close-on-exec duplicates, so a task that closes or redirects fd 1 does
# not lose the next tasks' output — where Node collects it with what is written to fd 1/2 directly
# (subprocesses, os.write), in one stream capped at MAX as a cold run's pipe is: what a task printed
# before its worker died is kept. At most MAX bytes per task are sent from here, the rest counted.
# Text goes through a TextIOWrapper with the encoding and error handler the worker's own stdout has
# (set by the preamble, as for a cold run), so sys.stdout.buffer takes bytes; fileno() is fd 1/2.
OUT_FDS = {fd: fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (1, 2)}  # never fd 3: it stays closed

class CappedBytes(io.RawIOBase):
    def __init__(self, fd):
        self.sent = 0
        self.dropped = 0
        self.fd = fd
    def writable(self):
        return True
    def fileno(self):
        return self.fd
    def write(self, b):
        b = memoryview(b).cast('B')
        room = MAX - self.sent
        keep = b[:max(room, 0)]
        self.dropped += len(b) - len(keep)
        while len(keep):
            n = os.write(OUT_FDS[self.fd], keep)
            self.sent += n
            keep = keep[n:]
        return len(b)

# Before the reply: wait (at most a second) until Node has read all the task's output, so that it
# is in the task's result, not the next one's. Node's stdio "pipes" are Unix sockets (libuv makes a
# socketpair), whose unread bytes TIOCOUTQ counts on this end; a real pipe's, FIONREAD.
# A platform without TIOCOUTQ (not Linux) does not wait for a socket: its output is best-effort there.
UNREAD = {fd: req for fd, req in ((fd, getattr(termios, 'TIOCOUTQ', None) if stat.S_ISSOCK(os.fstat(fd).st_mode) else termios.FIONREAD) for fd in OUT_FDS.values()) if req is not None}

def drained():
    end = time.monotonic() + 1.0
    for fd, request in UNREAD.items():
        while True:
            try:
                left = struct.unpack('i', fcntl.ioctl(fd, request, b'\0\0\0\0'))[0]
            except OSError:
                break
            if left == 0 or time.monotonic() > end:
                break
            time.sleep(0.0002)

def capture(like, fd):
    raw = CappedBytes(fd)
    text = io.TextIOWrapper(io.BufferedWriter(raw), encoding=getattr(like, 'encoding', None) or 'utf-8', errors=getattr(like, 'errors', None) or 'strict', newline='\n', write_through=True)
    return raw, text

def flushed(text):
    try:
        text.flush()
    except BaseException:
        pass

G = {'__name__': '__main__', '__builtins__': __builtins__}

# Text bounded like a stream: over MAX UTF-8 bytes, its first MAX bytes (a cut character reading
# as U+FFFD) and a line that marks what was dropped.
def bounded(text, what):
    b = text.encode('utf-8', 'surrogatepass')
    if len(b) <= MAX:
        return text
    return '%s\n[limit-graph: %s truncated at maxOutputBytes=%d; %d bytes dropped]' % (b[:MAX].decode('utf-8', 'replace'), what, MAX, len(b) - MAX)

# Whether JavaScript reads the value's JSON back as the same value: json.dumps writes any int, but
# JSON.parse rounds one beyond +-(2**53 - 1) to a double (2**64 -> 18446744073709552000), and it
# turns a dict key that is not a str into one ({1: 'a'} -> {"1": "a"}). The text is searched first
# (in C): such an int has at least 16 digits, and such a key is written "<digit or ->…": , "true": ,
# "false": or "null": ; only a value whose text has one of those is walked.
SAFE_INT = 2 ** 53 - 1
SUSPECT = re.compile(r'[0-9]{16}|"(?:-?[0-9][^"]*|true|false|null)": ')

def exact(v):
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, int) and not isinstance(x, bool):
            if not -SAFE_INT <= x <= SAFE_INT:
                return False
        elif isinstance(x, dict):
            for k, item in x.items():
                if not isinstance(k, str):
                    return False
                stack.append(item)
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
    return True

# The last expression's value: JSON that JavaScript reads back exactly, else its repr — NaN and
# Infinity (Node's JSON.parse refuses them), an int beyond +-(2**53 - 1) or a dict key that is not a
# str anywhere in it make the whole value its repr (a string). A value whose text (the string
# itself, else its JSON, else its repr) is over MAX bytes becomes that text, bounded.
def jsonable(v):
    try:
        text = v if isinstance(v, str) else json.dumps(v, allow_nan=False, ensure_ascii=False)
        if text is not v and SUSPECT.search(text) and not exact(v):
            raise ValueError('not exact in JSON')
    except Exception:
        v = text = repr(v)
    out = bounded(text, 'value')
    return v if out is text else out

def run(req):
    src = req['code']
    name = '<task-%d>' % req['id']
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    out_raw, out = capture(sys.__stdout__, 1)
    err_raw, err = capture(sys.__stderr__, 2)
    res = {'id': req['id'], 'ok': True}
    # The environment is the worker's again after every task (as each cold run starts from the same
    # one): task.env, and whatever the task itself set or removed in os.environ, last one task.
    saved_env = dict(os.environ)
    if req.get('env'):
        os.environ.update(req['env'])
    sys.argv = ['<task>'] + req.get('args', [])
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        # task.files, written as this worker's (the session's) uid before the code runs.
        for fname, content in (req.get('files') or {}).items():
            os.makedirs(os.path.dirname(fname), mode=0o700, exist_ok=True)
            with open(os.open(fname, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as f:
                f.write(content)
        tree = ast.parse(src, name, 'exec')
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, 'exec'), G)
        if last is not None:
            v = eval(compile(last, name, 'eval'), G)
            if v is not None:
                res['value'] = jsonable(v)
    except SystemExit as e:
        # As the interpreter ends a cold run on it: None is status 0, an int the status the OS keeps
        # (its low 8 bits), anything else is printed to stderr and is status 1.
        status = e.code
        if status is None:
            status = 0
        elif isinstance(status, int):
            status &= 0xff
        else:
            try:
                print(status, file=err)
            except BaseException:
                pass
            status = 1
        if status != 0:
            res['ok'] = False
            res['error'] = {'type': 'SystemExit', 'message': 'exit status %d' % status, 'exitCode': status}
    except BaseException as e:
        res['ok'] = False
        res['error'] = {'type': type(e).__name__, 'message': bounded(str(e), 'message'), 'memory': _limit_memory(e)}
        try:
            # A syntax error in the task has no frame of the task's own: ast.parse's would be noise.
            tb = None if isinstance(e, SyntaxError) and e.filename == name else e.__traceback__.tb_next
            traceback.print_exception(type(e), e, tb, file=err)
        except BaseException:
            pass
    finally:
        sys.stdout, sys.stderr = old
        if os.environ != saved_env:
            os.environ.clear()
            os.environ.update(saved_env)
    flushed(out)
    flushed(err)
    drained()
    res['dropped'] = {'stdout': out_raw.dropped, 'stderr': err_raw.dropped}
    return res

proto_out.write('{"ready":true}\n')
proto_out.flush()
for line in proto_in:
    req = json.loads(line)
    try:
        res = run(req)
        # Never a line Node cannot parse: NaN/Infinity anywhere in the reply fail here, not there.
        text = json.dumps(res, allow_nan=False)
    except BaseException as e:
        text = json.dumps({'id': req.get('id'), 'ok': False, 'error': {'type': type(e).__name__, 'message': 'the worker could not report the result: %s' % e}})
    proto_out.write(text + '\n')
    proto_out.flush()
`;
