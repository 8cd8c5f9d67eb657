"""Ansible connection into a Debian root tree by chroot, for the role's tests.

ansible-core has no chroot connection (community.general's lives in a collection this
machine cannot fetch: only PyPI and Debian are reachable, and the whole `ansible` bundle
is hundreds of megabytes for one plugin). This is the same idea in a few lines: run each
command with `chroot ROOT /bin/sh -c`, and copy files through `chroot ROOT` too so that
paths resolve inside the tree. The role runs unchanged; only the transport differs.
"""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
    name: debroot
    short_description: run tasks inside a root tree with chroot (certkeeper's tests)
    description:
        - Commands run as C(chroot ROOT /bin/sh -c CMD) on the controller, which must be root.
    author: certkeeper
    options:
        remote_addr:
            description: The root tree.
            default: inventory_hostname
            vars:
                - name: inventory_hostname
                - name: ansible_host
"""

_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "DEBIAN_FRONTEND": "noninteractive",
}


class Connection(ConnectionBase):  # type: ignore[misc]
    transport = "debroot"
    has_pipelining = True

    @property
    def root(self) -> str:
        return str(self.get_option("remote_addr"))

    def _connect(self) -> Connection:
        self._connected = True
        return self

    def _run(self, cmd: str, in_data: bytes | None = None) -> tuple[int, bytes, bytes]:
        proc = subprocess.run(
            ["chroot", self.root, "/bin/sh", "-c", cmd],
            input=in_data or b"",
            capture_output=True,
            env=_ENV,
            timeout=1800,
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr

    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = True
    ) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return self._run(cmd, in_data)

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as handle:
            data = handle.read()
        rc, _, err = self._run(f"cat > {shlex.quote(out_path)}", data)
        if rc != 0:
            raise AnsibleError(f"cannot write {out_path} in {self.root}: {err!r}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        rc, out, err = self._run(f"cat {shlex.quote(in_path)}")
        if rc != 0:
            raise AnsibleError(f"cannot read {in_path} in {self.root}: {err!r}")
        with open(out_path, "wb") as handle:
            handle.write(out)

    def close(self) -> None:
        self._connected = False

    def reset(self, *args: Any) -> None:
        pass
