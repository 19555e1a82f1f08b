# Read a file outside the sample's directory; passes only if the secret is read.
with open("__OUTSIDE__/secret.txt") as f:
    assert f.read() == "s3cret"
