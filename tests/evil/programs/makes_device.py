# As root, make a block device node for the first disk in the work directory and read the raw disk through it.
import os
import stat

os.mknod("disk", stat.S_IFBLK | 0o600, os.makedev(8, 0))
with open("disk", "rb") as f:
    assert f.read(512)
