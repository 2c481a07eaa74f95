// Read `bytes` bytes at `offset`; `whole`: the file must hold exactly that many.
static bool read_file(const std::string& path, void* data, size_t bytes, size_t offset, bool whole) {
    FILE* f = fopen(path.c_str(), "rb");
    if (!f) { fprintf(stderr, "error: cannot open %s\n", path.c_str()); return false; }
    bool ok = fseek(f, (long)offset, SEEK_SET) == 0 && fread(data, 1, bytes, f) == bytes;
    if (ok && whole) { char extra; ok = fread(&extra, 1, 1, f) == 0; }
    fclose(f);
    if (!ok) fprintf(stderr, "error: %s does not hold %zu bytes\n", path.c_str(), bytes);
    return ok;
}

static bool write_file(const std::string& path, const void* data, size_t bytes) {
    FILE* f = fopen(path.c_str(), "wb");
    if (!f) { fprintf(stderr, "error: cannot write %s\n", path.c_str()); return false; }
    bool ok = fwrite(data, 1, bytes, f) == bytes;
    fclose(f);
    return ok;
}
