"""Files fpqc writes and reads, safely: build directories, paths inside a model's directory, .npz archives."""
