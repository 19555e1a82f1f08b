# Read the host's account list and list the real home directory (where ~/.ssh lives).
import os
import pwd

home = pwd.getpwuid(os.getuid()).pw_dir
assert open("/etc/passwd").read()
assert os.listdir(home) != [".pyenv"] and os.listdir(home)
