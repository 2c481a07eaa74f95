// fpqc_dataflow.h -- how the stages of a kernel's hardware plan pass values:
// stream beats, whole buffers, DDR ports, and the C-simulation taps.
//
// A kernel (fpqc.backends.hls.kernel_cpp) declares every on-chip buffer and
// every stream of its plan and hands them to the stages (fpqc_tiled.h,
// fpqc_linear.h, fpqc_block.h); a stage declares none of its own.  A value a
// stage reads or writes is one of
//
//   hls::stream<Beat<T, N> >   an hls.stream: N elements a beat, the rows of
//                              the row tile in the stream's order -- row after
//                              row, or in column tiles of W columns (W columns
//                              of every row, then the next W); N divides the
//                              row length and W, so a beat never straddles a
//                              row or a column tile
//   T buf[R][C]                an hls.buffer of kind whole: R rows of C; R is
//                              the plan's row tile (row i of the tile at i) or
//                              all rows of the launch (row r0 + i)
//
// and a stage reads element (i, c) -- row i of the tile, column c -- with get()
// and writes it with put(), in its own loop order, which for a stream is the
// stream's order.  The cursor of a value (typename Cursor<V>::type, made from
// r0 and the row tile) keeps the beat in flight or the buffer's first row.
//
// Ports: an f32 tensor is a float*, low-bit codes are packed floor(32 / BITS)
// to a uint32_t (fpqc_hls.h), row-major with row stride C; load_rows /
// write_rows move a row tile between a port and a stream, load_buffer /
// write_buffer a whole buffer.
//
// Taps (C simulation only): built with -DFPQC_DUMP, a stage records every
// element of an op result it produces at (global row, column), and the kernel
// writes each result to $FPQC_DUMP_DIR/<kernel>.<op>.<result>.bin at the end
// (f32 raw, codes one byte each) for fpqc verify.  Otherwise a Tap is empty.
#ifndef FPQC_DATAFLOW_H
#define FPQC_DATAFLOW_H

#include <stdint.h>

#include "ap_int.h"
#include "hls_stream.h"

#ifdef FPQC_DUMP
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#endif

namespace fpqc {

// Registers written in a stage's innermost loops: v's low BITS bits into r,
// what `r = v` does.  Through the base class: `r = v` first builds a temporary
// ap_int, and in C simulation each ap_int write stores, reloads and stores its
// value again (ap_private's clearUnusedBits is volatile), so the PE array's
// loops would wait on memory twice per element.
template <int BITS>
inline void set_int(ap_int<BITS>& r, long long v) {
#pragma HLS INLINE
    static_cast<ap_int_base<BITS, true>&>(r) = v;
}
template <int BITS>
inline void set_uint(ap_uint<BITS>& r, unsigned long long v) {
#pragma HLS INLINE
    static_cast<ap_int_base<BITS, false>&>(r) = v;
}

// v's low BITS bits as a signed number: what ap_int<BITS>(v) holds, in a plain
// integer (a sign extension: wires in hardware).
template <int BITS>
inline long long wrap_signed(long long v) {
#pragma HLS INLINE
    static_assert(BITS >= 1 && BITS <= 64, "wrap_signed: 1 to 64 bits");
    return (long long)((unsigned long long)v << (64 - BITS)) >> (64 - BITS);
}

// One beat of a stream: N elements side by side.
template <class T, int N>
struct Beat {
    T v[N];
};

// ----------------------------------------------------------------- cursors

// Reading or writing a stream: the beat in flight.
template <class T, int N>
struct StreamCursor {
    Beat<T, N> beat;
    StreamCursor(int, int) {}
};

// Reading or writing a buffer of R rows: the buffer row of the tile's row 0
// (r0 when the buffer holds all rows of the launch, 0 when it holds a tile).
template <int R>
struct BufferCursor {
    int base;
    BufferCursor(int r0, int row_tile) : base(R > row_tile ? r0 : 0) {}
};

template <class V>
struct Cursor;
template <class T, int N>
struct Cursor<hls::stream<Beat<T, N> > > {
    typedef StreamCursor<T, N> type;
};
template <class T, int R, int C>
struct Cursor<T[R][C]> {
    typedef BufferCursor<R> type;
};

// Element (i, c) of a stream; the next beat is read at the first column of a beat.
template <class T, int N>
inline T get(hls::stream<Beat<T, N> >& s, StreamCursor<T, N>& cur, int, int c) {
#pragma HLS INLINE
    if (c % N == 0) cur.beat = s.read();
    return cur.beat.v[c % N];
}

template <class T, int R, int C>
inline T get(T (&b)[R][C], BufferCursor<R>& cur, int i, int c) {
#pragma HLS INLINE
    return b[cur.base + i][c];
}

// Element (i, c) into a stream; the beat is written at its last column.
template <class T, int N>
inline void put(hls::stream<Beat<T, N> >& s, StreamCursor<T, N>& cur, int, int c, const T& v) {
#pragma HLS INLINE
    cur.beat.v[c % N] = v;
    if (c % N == N - 1) s.write(cur.beat);
}

template <class T, int R, int C>
inline void put(T (&b)[R][C], BufferCursor<R>& cur, int i, int c, const T& v) {
#pragma HLS INLINE
    b[cur.base + i][c] = v;
}

// -------------------------------------------------------------------- taps

#ifdef FPQC_DUMP
namespace dump {

struct Entry {
    const char* name;
    unsigned char* bytes;
    long size;
};

// The results recorded in this launch (a C simulation runs one launch at a time).
inline Entry* entries() {
    static Entry table[256];
    return table;
}

inline Entry& entry(const char* name) {
    Entry* table = entries();
    int i = 0;
    while (table[i].name != 0 && strcmp(table[i].name, name) != 0) ++i;
    table[i].name = name;
    return table[i];
}

inline void store(const char* name, long at, const void* value, int bytes) {
    Entry& e = entry(name);
    const long need = (at + 1) * bytes;
    if (need > e.size) {
        long size = e.size ? e.size : 4096;
        while (size < need) size *= 2;
        e.bytes = (unsigned char*)realloc(e.bytes, size);
        memset(e.bytes + e.size, 0, size - e.size);
        e.size = size;
    }
    memcpy(e.bytes + at * bytes, value, bytes);
}

// $FPQC_DUMP_DIR/<name>.bin: the first n elements of `bytes` bytes recorded as `name`.
inline void write(const char* name, long n, int bytes) {
    Entry& e = entry(name);
    const char* dir = getenv("FPQC_DUMP_DIR");
    if (dir != 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.bin", dir, name);
        FILE* f = fopen(path, "wb");
        if (f != 0) {
            for (long i = 0; i < n * bytes; ++i) fputc(i < e.size ? e.bytes[i] : 0, f);
            fclose(f);
        }
    }
    free(e.bytes);
    e.bytes = 0;
    e.size = 0;
}

}  // namespace dump

// Where a stage records an op result: its dump name and row length.
struct Tap {
    const char* name;
    int row_length;
    void put(int r, int c, float v) const { dump::store(name, (long)r * row_length + c, &v, 4); }
    template <int B>
    void put(int r, int c, const ap_uint<B>& v) const {
        const unsigned char code = (unsigned char)v.to_uint();
        dump::store(name, (long)r * row_length + c, &code, 1);
    }
};
#define FPQC_TAP(name, row_length) (::fpqc::Tap{name, row_length})
#define FPQC_DUMP_WRITE(name, n, bytes) ::fpqc::dump::write(name, n, bytes)
#else
struct Tap {
    void put(int, int, float) const {}
    template <int B>
    void put(int, int, const ap_uint<B>&) const {}
};
#define FPQC_TAP(name, row_length) (::fpqc::Tap())
#define FPQC_DUMP_WRITE(name, n, bytes)
#endif

// ------------------------------------------------------------------- ports

inline float port_read(const float* port, long i, float*) { return port[i]; }

// Code i of a packed port (fpqc_hls.h's layout).
template <int B>
inline ap_uint<B> port_read(const uint32_t* port, long i, ap_uint<B>*) {
    const int per = 32 / B;
    return ap_uint<B>((port[i / per] >> ((i % per) * B)) & ((1u << B) - 1u));
}

// Rows [r0, r0 + nr) of a [rows, C] port into a stream, in column tiles of W.
template <int C, int W, int ROW_TILE, class P, class T, int N>
void load_rows(const P* port, hls::stream<Beat<T, N> >& s, int r0, int nr) {
    static_assert(C % W == 0 && W % N == 0, "load_rows: N divides W, W divides C");
    Beat<T, N> beat;
    for (int t = 0; t < C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int j = 0; j < W; ++j) {
#pragma HLS PIPELINE II = 1
                const int c = t * W + j;
                beat.v[c % N] = port_read(port, (long)(r0 + i) * C + c, (T*)0);
                if (c % N == N - 1) s.write(beat);
            }
        }
    }
}

// The first `rows` rows of a [rows, C] port into a whole buffer.
template <class P, class T, int R, int C>
void load_buffer(const P* port, T (&b)[R][C], int rows) {
    for (int r = 0; r < rows; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = R
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
            b[r][c] = port_read(port, (long)r * C + c, (T*)0);
        }
    }
}

// A vector port into a one-dimensional buffer.
template <class P, class T, int N>
void load_buffer(const P* port, T (&b)[N]) {
    for (int i = 0; i < N; ++i) {
#pragma HLS PIPELINE II = 1
        b[i] = port_read(port, i, (T*)0);
    }
}

// A stream of rows [r0, r0 + nr), in column tiles of W, into a [rows, C] f32 port.
template <int C, int W, int ROW_TILE, int N>
void write_rows(hls::stream<Beat<float, N> >& s, float* port, int r0, int nr) {
    static_assert(C % W == 0 && W % N == 0, "write_rows: N divides W, W divides C");
    Beat<float, N> beat;
    for (int t = 0; t < C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int j = 0; j < W; ++j) {
#pragma HLS PIPELINE II = 1
                const int c = t * W + j;
                if (c % N == 0) beat = s.read();
                port[(long)(r0 + i) * C + c] = beat.v[c % N];
            }
        }
    }
}

// Packs codes i0, i0 + 1, ... into a packed port, one word at a time; the
// first word is read back when the codes before i0 share it (written by the
// previous row tile), the last is written when the codes end.
template <int B>
struct CodePacker {
    static const int PER = 32 / B;
    uint32_t* port;
    long word;
    uint32_t bits;
    CodePacker(uint32_t* p, long i0) : port(p), word(i0 / PER), bits(i0 % PER ? p[i0 / PER] : 0u) {}
    void put(long i, const ap_uint<B>& code) {
        if (i / PER != word) {
            port[word] = bits;
            word = i / PER;
            bits = 0u;
        }
        const int shift = (i % PER) * B;
        bits = (bits & ~(((1u << B) - 1u) << shift)) | ((uint32_t)code.to_uint() << shift);
    }
    void flush() { port[word] = bits; }
};

// A stream of rows [r0, r0 + nr) of codes, row after row, into a packed [rows, C] port.
template <int C, int ROW_TILE, int B, int N>
void write_rows(hls::stream<Beat<ap_uint<B>, N> >& s, uint32_t* port, int r0, int nr) {
    static_assert(C % N == 0, "write_rows: N divides C");
    if (nr <= 0) return;
    CodePacker<B> packer(port, (long)r0 * C);
    Beat<ap_uint<B>, N> beat;
    for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
            if (c % N == 0) beat = s.read();
            packer.put((long)(r0 + i) * C + c, beat.v[c % N]);
        }
    }
    packer.flush();
}

// The first `rows` rows of a whole buffer into a [rows, C] f32 port.
template <int R, int C>
void write_buffer(float (&b)[R][C], float* port, int rows) {
    for (int r = 0; r < rows; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = R
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
            port[(long)r * C + c] = b[r][c];
        }
    }
}

// The first `rows` rows of a whole buffer of codes into a packed [rows, C] port.
template <int B, int R, int C>
void write_buffer(ap_uint<B> (&b)[R][C], uint32_t* port, int rows) {
    if (rows <= 0) return;
    CodePacker<B> packer(port, 0);
    for (int r = 0; r < rows; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = R
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
            packer.put((long)r * C + c, b[r][c]);
        }
    }
    packer.flush();
}

}  // namespace fpqc

#endif  // FPQC_DATAFLOW_H
