#!/usr/bin/env python3
"""tests/deploy/aws_zygote.py: run the real aws CLI v1 without paying its start-up every call.

Each `aws` process spends about a second of CPU importing botocore and parsing the service
models before it looks at its arguments; serve_cli_deploy.sh makes ~150 calls, which on a
loaded 2-core machine took ten minutes. So the test runs the CLI as a fork server: this
process imports awscli, builds the CLI driver and loads the lambda, iam and sts models once
(`serve SOCKET`); every call (`call SOCKET ARGS...`, what the test's `aws` on PATH runs) hands
over its arguments, environment, working directory and stdin/stdout/stderr (SCM_RIGHTS), and
the server forks a child that takes them over and runs the CLI's own entry point,
CLIDriver.main(ARGS), exactly as the `aws` script does. Every call still parses its arguments,
validates them against the official model, signs and sends its requests, in a process of its
own; only the imports are shared. The exit status comes back over the socket.
"""
import array
import json
import os
import signal
import socket
import sys


def serve(path):
    from awscli.clidriver import create_clidriver

    driver = create_clidriver()
    # Load what the calls need into the forked children's memory: the command tables and the
    # models, endpoints and rule sets of the three services deploy.sh talks to.
    table = driver._get_command_table()
    for svc in ("lambda", "iam", "sts"):
        table[svc]._get_command_table()
        driver.session.create_client(svc, region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                                     aws_access_key_id="warm", aws_secret_access_key="warm")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        if os.fork() == 0:
            srv.close()
            run_call(driver, conn)
        conn.close()


def recv_request(conn):
    data, fds = b"", []
    while not data.endswith(b"\n"):
        msg, anc, _, _ = conn.recvmsg(1 << 20, socket.CMSG_SPACE(3 * array.array("i").itemsize))
        if not msg:
            break
        data += msg
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(array.array("i", cdata[: len(cdata) - len(cdata) % array.array("i").itemsize]))
    return json.loads(data), fds


def run_call(driver, conn):
    rc = 255
    try:
        req, fds = recv_request(conn)
        for i, fd in enumerate(fds[:3]):
            os.dup2(fd, i)
            os.close(fd)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sys.argv = ["aws"] + req["argv"]
        rc = driver.main(req["argv"])
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 255
    except BaseException as e:  # the CLI's own errors end in main(); this is the server's
        sys.stderr.write("aws_zygote: %r\n" % (e,))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    try:
        conn.sendall(b"%d\n" % (rc or 0))
    finally:
        os._exit(0)


def call(path, argv):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    req = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode() + b"\n"
    s.sendmsg([req], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
    answer = b""
    while True:
        b = s.recv(64)
        if not b:
            break
        answer += b
    return int(answer.strip() or b"255")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(call(sys.argv[2], sys.argv[3:]))
