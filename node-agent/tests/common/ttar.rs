//! A reader for ttar, the plain-text archive node_exporter keeps its sysfs
//! fixture in. Format (from the archive's own header and ttar's docs):
//! records separated by `# ttar - - -` lines; `Directory: <path>` then
//! `Mode:`; `Path: <path>` then either `SymlinkTo: <target>` or
//! `Lines: <n>`, n content lines, and `Mode:`. In content, `NULLBYTE` stands
//! for a 0 byte, and a last line ending in `EOF` has no trailing newline.

use std::path::Path;

/// Unpacks `archive` under `dest`.
pub fn unpack(archive: &Path, dest: &Path) -> std::io::Result<()> {
    let data = std::fs::read(archive)?;
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let mut i = 0;
    let mut current: Option<String> = None;
    while i < lines.len() {
        let line = String::from_utf8_lossy(lines[i]).into_owned();
        i += 1;
        if let Some(dir) = line.strip_prefix("Directory: ") {
            std::fs::create_dir_all(dest.join(dir))?;
        } else if let Some(path) = line.strip_prefix("Path: ") {
            current = Some(path.to_string());
        } else if let Some(target) = line.strip_prefix("SymlinkTo: ") {
            let path = dest.join(current.take().expect("SymlinkTo after Path"));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::os::unix::fs::symlink(target, &path)?;
        } else if let Some(n) = line.strip_prefix("Lines: ") {
            let n: usize = n.trim().parse().expect("Lines: count");
            let path = dest.join(current.take().expect("Lines after Path"));
            let mut content = Vec::new();
            for raw in &lines[i..i + n] {
                let mut l = raw.to_vec();
                let no_newline = l.ends_with(b"EOF");
                if no_newline {
                    l.truncate(l.len() - 3);
                }
                content.extend(replace_nullbyte(&l));
                if !no_newline {
                    content.push(b'\n');
                }
            }
            i += n;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, content)?;
        }
    }
    Ok(())
}

fn replace_nullbyte(line: &[u8]) -> Vec<u8> {
    const MARK: &[u8] = b"NULLBYTE";
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with(MARK) {
            out.push(0);
            i += MARK.len();
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}
