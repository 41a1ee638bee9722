//! Sealing of files too large to hold twice in memory (customer exports): the file is cut into
//! chunks of [`CHUNK`] bytes, each sealed with [`super::seal`] under the customer's key. A chunk's
//! associated data carries its position; its plaintext starts with the file's random id and a
//! flag that marks the last chunk. So chunks cannot be reordered, dropped from the end, or moved
//! between files, and the file dies with the customer's key.

use std::io::{self, Write};

use zeroize::Zeroizing;

use super::{Field, SealError, SecretKey, fill_random, open, seal};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 1 << 20;
const MAGIC: &[u8; 4] = b"PSF1";
const ID_LEN: usize = 16;

/// A writer that seals everything written to it into `inner`; call [`SealingWriter::finish`].
pub struct SealingWriter<W: Write> {
    inner: W,
    key: SecretKey,
    field: Field,
    id: [u8; ID_LEN],
    index: i64,
    buf: Zeroizing<Vec<u8>>,
}

impl<W: Write> SealingWriter<W> {
    /// Starts a sealed file in `inner` (writes its header).
    pub fn new(mut inner: W, key: SecretKey, field: Field) -> io::Result<Self> {
        let mut id = [0u8; ID_LEN];
        fill_random(&mut id);
        inner.write_all(MAGIC)?;
        inner.write_all(&id)?;
        Ok(Self {
            inner,
            key,
            field,
            id,
            index: 0,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
        })
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        let mut plain = Zeroizing::new(Vec::with_capacity(ID_LEN + 1 + self.buf.len()));
        plain.extend_from_slice(&self.id);
        plain.push(u8::from(last));
        plain.extend_from_slice(&self.buf);
        let sealed = seal(&self.key, self.field, self.index, &plain);
        let len = u32::try_from(sealed.len()).map_err(|_| io::Error::other("chunk too large"))?;
        self.inner.write_all(&len.to_be_bytes())?;
        self.inner.write_all(&sealed)?;
        self.index += 1;
        self.buf.clear();
        Ok(())
    }

    /// Seals what is left as the last chunk and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.emit(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks are sealed whole; only `finish` seals a short one.
        self.inner.flush()
    }
}

/// Opens a file sealed by [`SealingWriter`] under the same key and field.
pub fn open_file(
    key: &SecretKey,
    field: Field,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let rest = sealed
        .strip_prefix(MAGIC.as_slice())
        .ok_or(SealError::Unopenable)?;
    if rest.len() < ID_LEN {
        return Err(SealError::Unopenable);
    }
    let (id, mut rest) = rest.split_at(ID_LEN);
    let mut out = Zeroizing::new(Vec::new());
    let mut index = 0i64;
    loop {
        if rest.len() < 4 {
            return Err(SealError::Unopenable);
        }
        let (len, tail) = rest.split_at(4);
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if tail.len() < len {
            return Err(SealError::Unopenable);
        }
        let (chunk, tail) = tail.split_at(len);
        let plain = open(key, field, index, chunk)?;
        if plain.len() < ID_LEN + 1 || &plain[..ID_LEN] != id {
            return Err(SealError::Unopenable);
        }
        out.extend_from_slice(&plain[ID_LEN + 1..]);
        match (plain[ID_LEN], tail.is_empty()) {
            (1, true) => return Ok(out),
            (0, false) => {}
            _ => return Err(SealError::Unopenable),
        }
        rest = tail;
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Field = Field::new("exports", "file");

    fn sealed(key: &SecretKey, data: &[u8]) -> Vec<u8> {
        let mut w = SealingWriter::new(Vec::new(), key.clone(), F).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn a_sealed_file_opens_whole_and_only_whole_under_its_own_key() {
        let key = SecretKey::random();
        let data: Vec<u8> = (0..(CHUNK * 2 + 77)).map(|i| (i % 251) as u8).collect();
        let file = sealed(&key, &data);
        assert!(
            !file.windows(64).any(|w| w == &data[1000..1064]),
            "no plaintext"
        );
        assert_eq!(&open_file(&key, F, &file).unwrap()[..], &data[..]);
        assert_eq!(&open_file(&key, F, &sealed(&key, b"")).unwrap()[..], b"");
        assert!(
            open_file(&SecretKey::random(), F, &file).is_err(),
            "other key"
        );
        assert!(
            open_file(&key, Field::new("photos", "file"), &file).is_err(),
            "other field"
        );
        // Cut after the first chunk: the last-chunk flag is missing.
        let first_len = u32::from_be_bytes(file[20..24].try_into().unwrap()) as usize;
        assert!(
            open_file(&key, F, &file[..24 + first_len]).is_err(),
            "cut short"
        );
        // A chunk from another file of the same customer does not fit.
        let other = sealed(&key, &data);
        let mut mixed = file[..24 + first_len].to_vec();
        mixed.extend_from_slice(&other[24 + first_len..]);
        assert!(open_file(&key, F, &mixed).is_err(), "spliced");
        let mut flipped = file.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(open_file(&key, F, &flipped).is_err(), "tampered");
    }
}
