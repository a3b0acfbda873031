//! Record outputs: Argus 3 streams written to files or stdout (`-w`).

use crate::engine::{RecordSink, SensorStatus};
use crate::record::{encode, Cause, FlowRecord, Mar, SrcId, Ts, MAR_COOKIE};
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};

/// Wall-clock time now.
pub fn now() -> Ts {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ts {
        sec: d.as_secs() as u32,
        usec: d.subsec_micros(),
    }
}

/// The MAR fields common to the init and stop records.
pub fn base_mar(srcid: SrcId, report_interval: u16, start: Ts) -> Mar {
    Mar {
        cause: Cause::Start,
        major: 3,
        minor: 0,
        report_interval,
        mar_interval: 60,
        startime: start,
        now: now(),
        thisid: srcid.value(),
        ..Default::default()
    }
}

/// An Argus 3 stream writer: init MAR first, flow records, stop MAR last.
pub struct StreamWriter {
    out: BufWriter<Box<dyn Write + Send>>,
    buf: Vec<u8>,
    pub records: u32,
    srcid: SrcId,
    report_interval: u16,
    start: Ts,
    pub error: Option<io::Error>,
}

impl StreamWriter {
    /// `path` "-" is stdout. Like argus, an existing file is appended to.
    pub fn open(path: &str, srcid: SrcId, report_interval: u16) -> io::Result<StreamWriter> {
        let w: Box<dyn Write + Send> = if path == "-" {
            Box::new(io::stdout())
        } else {
            Box::new(OpenOptions::new().create(true).append(true).open(path)?)
        };
        let start = now();
        let mut s = StreamWriter {
            out: BufWriter::with_capacity(1 << 20, w),
            buf: Vec::with_capacity(4096),
            records: 0,
            srcid,
            report_interval,
            start,
            error: None,
        };
        let mut m = base_mar(srcid, report_interval, start);
        m.argusid = MAR_COOKIE;
        s.buf.clear();
        encode::encode_mar(&m, &mut s.buf);
        s.out.write_all(&s.buf)?;
        s.records = 1;
        Ok(s)
    }

    /// Write the stop MAR and flush.
    pub fn finish(mut self) -> io::Result<()> {
        let mut m = base_mar(self.srcid, self.report_interval, self.start);
        m.cause = Cause::Stop;
        m.argusid = self.srcid.value();
        m.records = self.records;
        m.clients = 1;
        self.buf.clear();
        encode::encode_mar(&m, &mut self.buf);
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The MAR status record argus writes every MAR interval: the interval's packets, bytes and
/// capture drops, the flows in the tables, the records written, and the clients connected with
/// the records dropped for them in the interval (in the MAR's `queue` field).
pub fn status_mar(srcid: SrcId, report_interval: u16, st: &SensorStatus) -> Mar {
    let mut m = base_mar(srcid, report_interval, st.since);
    m.cause = Cause::Status;
    m.argusid = srcid.value();
    m.now = st.now;
    m.pkts_rcvd = st.packets;
    m.bytes_rcvd = st.bytes;
    m.dropped = st.dropped.min(u32::MAX as u64) as u32;
    m.flows = st.flows.min(u32::MAX as u64) as u32;
    m.records = st.records.min(u32::MAX as u64) as u32;
    m.clients = st.clients;
    m.queue = st.client_drops.min(u32::MAX as u64) as u32;
    m.dups = st.dups;
    m
}

/// The supplemental MARs (cause 0x90) that follow a status MAR: one per interface and VLAN
/// with copies in the interval (docs/duplicates.md, "Showing a faulty SPAN").
pub fn dup_mars<'a>(
    srcid: SrcId,
    report_interval: u16,
    st: &'a SensorStatus,
) -> impl Iterator<Item = Mar> + 'a {
    st.dup_detail.iter().map(move |v| {
        let mut m = base_mar(srcid, report_interval, st.since);
        m.cause = Cause::Supplemental;
        m.argusid = srcid.value();
        m.now = st.now;
        m.pkts_rcvd = v.pkts[0] + v.pkts[1];
        let c = |x: u64| x.min(u32::MAX as u64) as u32;
        (m.records, m.flows) = (c(v.pkts[0]), c(v.pkts[1]));
        (m.dropped, m.queue) = (c(v.dups[0]), c(v.dups[1]));
        m.set_dup_iface(&v.iface);
        let (permille, _) = crate::flow::dup::dup_ratio(v.pkts, v.dups);
        m.dups = crate::record::MarDups {
            pkts: c(v.dups[0] + v.dups[1]),
            vid: v.vid,
            dirs: u8::from(v.dups[0] > 0) | (u8::from(v.dups[1] > 0) << 1),
            vlans: 1,
            permille: permille.min(u16::MAX as u32) as u16,
        };
        m
    })
}

impl StreamWriter {
    /// The MAR status record for this stream.
    pub fn status_mar(&self, st: &SensorStatus) -> Mar {
        status_mar(self.srcid, self.report_interval, st)
    }

    /// Write the record encoded in `buf`; the first write error is kept for the end.
    fn write_record(&mut self) -> io::Result<()> {
        if let Err(e) = self.out.write_all(&self.buf) {
            if self.error.is_none() {
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
            }
            return Err(e);
        }
        self.records += 1;
        Ok(())
    }
}

impl RecordSink for StreamWriter {
    fn status(&mut self, st: &SensorStatus) -> io::Result<()> {
        let m = self.status_mar(st);
        self.buf.clear();
        encode::encode_mar(&m, &mut self.buf);
        for d in dup_mars(self.srcid, self.report_interval, st) {
            encode::encode_mar(&d, &mut self.buf);
        }
        self.out.write_all(&self.buf)?;
        self.records += 1 + st.dup_detail.len() as u32;
        self.out.flush()
    }

    fn flow(&mut self, rec: &FlowRecord) -> io::Result<()> {
        self.buf.clear();
        encode::encode_flow(rec, &mut self.buf);
        self.write_record()
    }

    fn event(&mut self, ev: &crate::record::EventRecord) -> io::Result<()> {
        self.buf.clear();
        encode::encode_event(ev, &mut self.buf);
        self.write_record()
    }
}
