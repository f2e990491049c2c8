//! Rename: the plan (what must be materialised, hidden, made opaque) and
//! its execution on the upper layer.
//!
//! Theory of operation. A rename happens in the upper layer with one
//! `renameat2`, so the source must live there entirely first. A file is
//! copied up. A directory that draws on lower layers is materialised: its
//! whole merged subtree is copied up (data cloned where the filesystem
//! can, hardlinks inside it kept), its whiteouts dropped and an opaque
//! marker set, its times restored. Same-mount renames therefore never
//! answer EXDEV. If the old name still shows through from a lower layer,
//! a whiteout is written for it before the move; if the new name hides
//! something below, a moved directory is made opaque and a whiteout at
//! the new name is removed after it. RENAME_NOREPLACE is checked against
//! the merged view; RENAME_EXCHANGE materialises both sides.
//!
//! [`plan`] is the pure part: given what the two names resolve to, it
//! answers the errno or the steps.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use crate::copyup;
use crate::inode::{Ino, Node, Place};
use crate::ops::{enoent, Overlay};
use crate::overlay::{self, DirView, Found, Layer};
use crate::sys;
use crate::whiteout;

/// The shape of one side of a rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    pub is_dir: bool,
    /// For a directory: whether it has visible entries.
    pub non_empty: bool,
}

/// What a rename must do, decided from the two sides alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Source and target are the same file: nothing to do.
    Nothing,
    /// Move the source, replacing the target if any.
    Move,
    /// Swap the two.
    Exchange,
}

/// Decide a rename. Errors are errno values.
pub fn plan(src: Side, dst: Option<Side>, same_file: bool, noreplace: bool, exchange: bool) -> Result<Plan, i32> {
    if exchange {
        return match dst {
            None => Err(libc::ENOENT),
            Some(_) if same_file => Ok(Plan::Nothing),
            Some(_) => Ok(Plan::Exchange),
        };
    }
    let Some(dst) = dst else { return Ok(Plan::Move) };
    if noreplace {
        return Err(libc::EEXIST);
    }
    if same_file {
        return Ok(Plan::Nothing);
    }
    match (src.is_dir, dst.is_dir) {
        (true, false) => Err(libc::ENOTDIR),
        (false, true) => Err(libc::EISDIR),
        (true, true) if dst.non_empty => Err(libc::ENOTEMPTY),
        _ => Ok(Plan::Move),
    }
}

impl Overlay {
    pub fn rename(&self, parent: Ino, name: &[u8], newparent: Ino, newname: &[u8], flags: u32) -> io::Result<()> {
        if overlay::is_reserved(newname) {
            return Err(sys::errno(libc::EINVAL));
        }
        if newname.len() > 255 {
            return Err(sys::errno(libc::ENAMETOOLONG));
        }
        let pnode = self.node(parent)?;
        let npnode = self.node(newparent)?;
        let p = pnode.place();
        let np = npnode.place();
        let src = overlay::resolve(&self.stack, &p.path, &p.view, name)?.ok_or_else(enoent)?;
        let dst = overlay::resolve(&self.stack, &np.path, &np.view, newname)?;
        let old = sys::join(&p.path, name);
        let new = sys::join(&np.path, newname);
        let side = |f: &Found, path: &[u8]| -> io::Result<Side> {
            Ok(match &f.view {
                Some(v) => Side { is_dir: true, non_empty: !overlay::is_empty(&self.stack, path, v)? },
                None => Side { is_dir: false, non_empty: false },
            })
        };
        let src_side = side(&src, &old)?;
        let dst_side = match &dst {
            Some(d) if d.view.is_some() && flags & libc::RENAME_EXCHANGE == 0 => Some(side(d, &new)?),
            Some(d) => Some(Side { is_dir: d.view.is_some(), non_empty: false }),
            None => None,
        };
        let same = dst.as_ref().is_some_and(|d| d.st.st_dev == src.st.st_dev && d.st.st_ino == src.st.st_ino);
        let plan =
            plan(src_side, dst_side, same, flags & libc::RENAME_NOREPLACE != 0, flags & libc::RENAME_EXCHANGE != 0).map_err(sys::errno)?;
        tracing::trace!(from = ?String::from_utf8_lossy(&old), to = ?String::from_utf8_lossy(&new), ?plan, "rename");
        match plan {
            Plan::Nothing => Ok(()),
            Plan::Move => self.do_move(&pnode, &npnode, name, newname, src, dst),
            Plan::Exchange => self.do_exchange(&pnode, &npnode, name, newname, src, dst.ok_or_else(enoent)?),
        }
    }

    fn node_of(&self, f: &Found) -> (Ino, Option<Arc<Node>>) {
        let ino = self.inos.get_or_alloc(f.st.st_dev, f.st.st_ino);
        (ino, self.nodes.get(ino))
    }

    /// Bring a found entry wholly into the upper layer at `path`.
    fn materialize_found(&self, path: &[u8], f: &Found) -> io::Result<()> {
        let (_, node) = self.node_of(f);
        match &f.view {
            None => match node {
                Some(n) if f.layer != Layer::Upper => self.copy_up(&n, true),
                _ if f.layer != Layer::Upper => {
                    let st = copyup::copy_entry(&self.stack, f.layer, path, true, self.privilege)?;
                    if let Some(ino) = self.inos.get(f.st.st_dev, f.st.st_ino) {
                        self.inos.bind(st.st_dev, st.st_ino, ino);
                    }
                    Ok(())
                }
                _ => Ok(()),
            },
            Some(view) => {
                let mut links = HashMap::new();
                self.materialize_dir(path, f, view, &mut links)
            }
        }
    }

    fn materialize_dir(&self, path: &[u8], f: &Found, view: &DirView, links: &mut HashMap<(u64, u64), Vec<u8>>) -> io::Result<()> {
        let up = self.stack.upper();
        if f.layer != Layer::Upper {
            let st = copyup::copy_entry(&self.stack, f.layer, path, true, self.privilege)?;
            if let Some(ino) = self.inos.get(f.st.st_dev, f.st.st_ino) {
                self.inos.bind(st.st_dev, st.st_ino, ino);
            }
        }
        if view.lowers.is_empty() {
            return Ok(());
        }
        let times = sys::fstatat(up, path)?;
        let full = DirView { upper: true, lowers: view.lowers.clone() };
        for e in overlay::list(&self.stack, path, &full)? {
            let child = sys::join(path, &e.name);
            let Some(cf) = overlay::resolve_from(&self.stack, path, &full, &e.name, Some(e.layer))? else { continue };
            match &cf.view {
                Some(cv) => self.materialize_dir(&child, &cf, cv, links)?,
                None if cf.layer == Layer::Upper => {}
                None => {
                    let key = (cf.st.st_dev, cf.st.st_ino);
                    let linked = match links.get(&key) {
                        Some(first) if cf.st.st_nlink > 1 => sys::linkat(up, first, up, &child).is_ok(),
                        _ => false,
                    };
                    if !linked {
                        let st = copyup::copy_entry(&self.stack, cf.layer, &child, true, self.privilege)?;
                        if let Some(ino) = self.inos.get(key.0, key.1) {
                            self.inos.bind(st.st_dev, st.st_ino, ino);
                        }
                        if cf.st.st_nlink > 1 {
                            links.insert(key, child.clone());
                        }
                    }
                }
            }
        }
        for e in sys::read_dir(up, path)? {
            if overlay::is_reserved(&e.name) && e.name != whiteout::OPAQUE {
                sys::unlinkat(up, &sys::join(path, &e.name), 0)?;
            }
        }
        self.make_opaque(path)?;
        copyup::restore_times(up, path, &times);
        Ok(())
    }

    fn make_opaque(&self, dir: &[u8]) -> io::Result<()> {
        let up = self.stack.upper();
        let st = sys::fstatat(up, dir)?;
        match sys::openat(up, &sys::join(dir, whiteout::OPAQUE), libc::O_CREAT | libc::O_WRONLY, 0o600) {
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        copyup::restore_times(up, dir, &st);
        Ok(())
    }

    fn do_move(
        &self,
        pnode: &Arc<Node>,
        npnode: &Arc<Node>,
        name: &[u8],
        newname: &[u8],
        src: Found,
        dst: Option<Found>,
    ) -> io::Result<()> {
        let up = self.stack.upper();
        let (p, np, old, new) = self.parents_up(pnode, npnode, name, newname)?;
        let (src_ino, src_node) = self.node_of(&src);
        let src_below = src.layer != Layer::Upper || self.visible_below(&p.path, &p.view, name)?;
        let new_wh = !np.view.lowers.is_empty() && overlay::has_whiteout(up, &np.path, newname)?;
        let dst_below = match &dst {
            Some(d) => d.layer != Layer::Upper || self.visible_below(&np.path, &np.view, newname)?,
            None => new_wh,
        };
        self.materialize_found(&old, &src)?;
        let src_st = sys::fstatat(up, &old)?;
        let is_dir = src.view.is_some();
        if is_dir && dst_below {
            self.make_opaque(&old)?;
        }
        if let Some(d) = &dst {
            if d.layer == Layer::Upper && d.view.is_some() {
                self.clear_markers(&new)?;
            }
        }
        if src_below {
            self.write_whiteout(&p.path, name)?;
        }
        let replaced = match &dst {
            Some(d) if d.layer == Layer::Upper => sys::fstatat(up, &new).ok(),
            _ => None,
        };
        // The file this rename replaces may still be open: keep it reachable.
        if let Some(d) = dst.as_ref().filter(|d| d.view.is_none() && (d.st.st_nlink <= 1 || d.layer != Layer::Upper)) {
            if let Some(n) = self.inos.get(d.st.st_dev, d.st.st_ino).and_then(|i| self.nodes.get(i)).filter(|n| n.ino != src_ino) {
                self.keep_open(&n, d.layer, &new);
            }
        }
        let lend = |dir: &[u8], f: &mut dyn FnMut() -> io::Result<()>| copyup::as_owner(self.privilege, up, dir, 0o300, f);
        lend(&p.path, &mut || lend(&np.path, &mut || sys::renameat2(up, &old, up, &new, 0)))?;
        if new_wh {
            sys::unlinkat(up, &sys::join(&np.path, &whiteout::whiteout_for(std::ffi::OsStr::from_bytes(newname)).into_vec()), 0)?;
        }
        if is_dir {
            copyup::restore_times(up, &new, &src_st);
        }
        if let Some(d) = &dst {
            if let Some(n) = self.inos.get(d.st.st_dev, d.st.st_ino).and_then(|i| self.nodes.get(i)) {
                if n.ino != src_ino {
                    crate::inode::write(&n.place).drop_name(&new);
                }
            }
        }
        if let Some(r) = replaced {
            if r.st_nlink <= 1 || is_dir {
                self.inos.unbind(r.st_dev, r.st_ino);
            }
        }
        self.inos.bind(src_st.st_dev, src_st.st_ino, src_ino);
        self.moved(src_node.as_deref(), &old, npnode.ino, new);
        Ok(())
    }

    /// Update cached places after `old` moved to `new` (all now upper).
    fn moved(&self, node: Option<&Node>, old: &[u8], newparent: Ino, new: Vec<u8>) {
        let under = self.nodes.under(old);
        if let Some(n) = node {
            {
                let mut w = crate::inode::write(&n.place);
                w.parent = newparent;
                w.rename_name(old, new.clone());
            }
            self.settle(n);
        }
        for n in under {
            crate::inode::write(&n.place).reroot(old, &new);
            self.settle(&n);
        }
    }

    /// Both parent directories copied up, their places, and the two full
    /// paths of a rename.
    fn parents_up(
        &self,
        pnode: &Arc<Node>,
        npnode: &Arc<Node>,
        name: &[u8],
        newname: &[u8],
    ) -> io::Result<(Place, Place, Vec<u8>, Vec<u8>)> {
        self.copy_up(pnode, true)?;
        self.copy_up(npnode, true)?;
        let (p, np) = (pnode.place(), npnode.place());
        let (old, new) = (sys::join(&p.path, name), sys::join(&np.path, newname));
        Ok((p, np, old, new))
    }

    fn do_exchange(&self, pnode: &Arc<Node>, npnode: &Arc<Node>, name: &[u8], newname: &[u8], a: Found, b: Found) -> io::Result<()> {
        let up = self.stack.upper();
        let (_, _, pa, pb) = self.parents_up(pnode, npnode, name, newname)?;
        let (ia, na) = self.node_of(&a);
        let (ib, nb) = self.node_of(&b);
        self.materialize_found(&pa, &a)?;
        self.materialize_found(&pb, &b)?;
        if a.view.is_some() {
            self.make_opaque(&pa)?;
        }
        if b.view.is_some() {
            self.make_opaque(&pb)?;
        }
        let sa = sys::fstatat(up, &pa)?;
        let sb = sys::fstatat(up, &pb)?;
        sys::renameat2(up, &pa, up, &pb, libc::RENAME_EXCHANGE)?;
        self.inos.bind(sa.st_dev, sa.st_ino, ia);
        self.inos.bind(sb.st_dev, sb.st_ino, ib);
        let under_a = self.nodes.under(&pa);
        let under_b = self.nodes.under(&pb);
        let rewrite = |nodes: Vec<Arc<Node>>, from: &[u8], to: &[u8]| {
            for n in nodes {
                crate::inode::write(&n.place).reroot(from, to);
                self.settle(&n);
            }
        };
        rewrite(under_a, &pa, &pb);
        rewrite(under_b, &pb, &pa);
        for (n, parent, from, to) in [(na, npnode.ino, &pa, &pb), (nb, pnode.ino, &pb, &pa)] {
            if let Some(n) = n {
                {
                    let mut w = crate::inode::write(&n.place);
                    w.parent = parent;
                    w.rename_name(from, to.clone());
                }
                self.settle(&n);
            }
        }
        Ok(())
    }
}

use std::os::unix::ffi::{OsStrExt, OsStringExt};

#[cfg(test)]
mod tests {
    use super::*;

    const F: Side = Side { is_dir: false, non_empty: false };
    const D: Side = Side { is_dir: true, non_empty: false };
    const DN: Side = Side { is_dir: true, non_empty: true };

    #[test]
    fn plan_follows_rename_2() {
        assert_eq!(plan(F, None, false, false, false), Ok(Plan::Move));
        assert_eq!(plan(F, Some(F), false, false, false), Ok(Plan::Move));
        assert_eq!(plan(F, Some(F), true, false, false), Ok(Plan::Nothing));
        assert_eq!(plan(D, Some(F), false, false, false), Err(libc::ENOTDIR));
        assert_eq!(plan(F, Some(D), false, false, false), Err(libc::EISDIR));
        assert_eq!(plan(D, Some(DN), false, false, false), Err(libc::ENOTEMPTY));
        assert_eq!(plan(D, Some(D), false, false, false), Ok(Plan::Move));
    }

    #[test]
    fn plan_flags() {
        assert_eq!(plan(F, Some(F), false, true, false), Err(libc::EEXIST));
        assert_eq!(plan(F, None, false, true, false), Ok(Plan::Move));
        assert_eq!(plan(F, None, false, false, true), Err(libc::ENOENT));
        assert_eq!(plan(D, Some(F), false, false, true), Ok(Plan::Exchange));
    }
}
