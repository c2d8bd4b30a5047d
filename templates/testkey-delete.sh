# inputs: (none)
# The key test keeps only which keys it verified: forget them.
rm -rf "$STATE_DIR/testkey"
