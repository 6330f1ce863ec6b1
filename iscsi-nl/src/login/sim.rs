//! A small simulated target for the login tests: written from RFC 7143, it answers Login
//! Requests with Login Responses, checks CHAP, negotiates with its own preferences, and can
//! be told to misbehave.

use crate::chap::{self, Credentials};
use crate::keys::{self, Key, Rule};
use crate::pdu::{LoginRequest, LoginResponse, Pdu, Stage};
use crate::text::{self, TextAssembler};

/// The target's settings and state.
pub(crate) struct SimTarget {
    /// The target names it serves.
    pub names: Vec<String>,
    /// The initiator credentials it requires (CHAP), if any.
    pub chap: Option<Credentials>,
    /// Its own credentials, for mutual CHAP.
    pub own: Option<Credentials>,
    /// Its preferences: the values it answers offers with.
    pub prefs: Vec<(&'static str, String)>,
    /// Answers replaced by these values (to misbehave).
    pub overrides: Vec<(&'static str, String)>,
    /// Keys it offers in its first operational response.
    pub offers: Vec<(String, String)>,
    /// Cut its operational answer across two PDUs (C bit).
    pub split: bool,
    /// Answer every login with this redirection (status detail, TargetAddress).
    pub redirect: Option<(u8, String)>,
    /// The TSIH it assigns.
    pub tsih: u16,
    /// What the initiator offered and declared, as received.
    pub received: Vec<(String, String)>,
    stat_sn: u32,
    first: bool,
    chap_id: u8,
    challenge: Vec<u8>,
    authenticated: bool,
    queued: Vec<(Vec<u8>, bool)>,
    assembler: TextAssembler,
    cmd_sn: Option<u32>,
}

impl SimTarget {
    pub fn new(name: &str) -> Self {
        SimTarget {
            names: vec![name.to_owned()],
            chap: None,
            own: None,
            prefs: vec![
                ("HeaderDigest", "None".into()),
                ("DataDigest", "None".into()),
                ("MaxBurstLength", "131072".into()),
                ("FirstBurstLength", "65536".into()),
                ("MaxConnections", "1".into()),
                ("InitialR2T", "Yes".into()),
                ("ImmediateData", "Yes".into()),
                ("DefaultTime2Wait", "2".into()),
                ("DefaultTime2Retain", "20".into()),
                ("MaxOutstandingR2T", "1".into()),
                ("DataPDUInOrder", "Yes".into()),
                ("DataSequenceInOrder", "Yes".into()),
                ("ErrorRecoveryLevel", "0".into()),
            ],
            overrides: Vec::new(),
            offers: Vec::new(),
            split: false,
            redirect: None,
            tsih: 0x1234,
            received: Vec::new(),
            stat_sn: 1000,
            first: true,
            chap_id: 77,
            challenge: (0..16).map(|i| 0xa0 ^ i).collect(),
            authenticated: false,
            queued: Vec::new(),
            assembler: TextAssembler::default(),
            cmd_sn: None,
        }
    }

    pub fn pref(&mut self, key: &'static str, value: &str) -> &mut Self {
        self.prefs.retain(|(k, _)| *k != key);
        self.prefs.push((key, value.to_owned()));
        self
    }

    fn response(&mut self, req: &LoginRequest, data: Vec<u8>) -> LoginResponse {
        let stat_sn = self.stat_sn;
        self.stat_sn += 1;
        LoginResponse {
            csg: req.csg,
            nsg: req.nsg,
            isid: req.isid,
            itt: req.itt,
            stat_sn,
            exp_cmd_sn: req.cmd_sn,
            max_cmd_sn: req.cmd_sn.wrapping_add(31),
            data,
            ..LoginResponse::default()
        }
    }

    fn status(&mut self, req: &LoginRequest, class: u8, detail: u8) -> Pdu {
        let mut r = self.response(req, Vec::new());
        (r.status_class, r.status_detail) = (class, detail);
        Pdu::LoginResponse(r)
    }

    /// Answers one PDU of the initiator.
    pub fn handle(&mut self, pdu: &Pdu) -> Pdu {
        let Pdu::LoginRequest(req) = pdu else {
            panic!("the initiator sent {pdu:?} during login");
        };
        // Bookkeeping the initiator must keep: constant CmdSN, ExpStatSN one past our StatSN.
        assert_eq!(*self.cmd_sn.get_or_insert(req.cmd_sn), req.cmd_sn);
        if !self.first {
            assert_eq!(req.exp_stat_sn, self.stat_sn, "ExpStatSN");
        }
        self.first = false;
        if let Some((detail, address)) = self.redirect.clone() {
            let data = text::emit(&[("TargetAddress", address)]).unwrap();
            let mut r = self.response(req, data);
            (r.status_class, r.status_detail) = (1, detail);
            return Pdu::LoginResponse(r);
        }
        if !self.queued.is_empty() {
            assert!(req.data.is_empty(), "the initiator must fetch with empty requests");
            let (data, transit) = self.queued.remove(0);
            let cont = !self.queued.is_empty();
            let mut r = self.response(req, data);
            r.cont = cont;
            r.transit = transit && !cont && req.transit;
            if r.transit {
                r.tsih = self.tsih;
            }
            return Pdu::LoginResponse(r);
        }
        let Some(pairs) = self.assembler.push(&req.data, req.cont).unwrap() else {
            // Part of a longer text: acknowledge with an empty response.
            return Pdu::LoginResponse(self.response(req, Vec::new()));
        };
        self.received.extend(pairs.iter().cloned());
        match req.csg {
            Stage::SecurityNegotiation => self.security(req, &pairs),
            _ => self.operational(req, &pairs),
        }
    }
}

impl SimTarget {
    fn security(&mut self, req: &LoginRequest, pairs: &[(String, String)]) -> Pdu {
        let mut out: Vec<(String, String)> = Vec::new();
        if let Some(name) = text::get(pairs, "TargetName") {
            if !self.names.iter().any(|n| n == name) {
                return self.status(req, 2, 3);
            }
            out.push(("TargetAlias".into(), "sim disk".into()));
        }
        if text::get(pairs, "InitiatorName").is_some() {
            out.push(("TargetPortalGroupTag".into(), "1".into()));
        }
        if let Some(methods) = text::get(pairs, "AuthMethod") {
            let want = if self.chap.is_some() { "CHAP" } else { "None" };
            if !text::parse_list(methods).contains(&want) {
                return self.status(req, 2, 1);
            }
            out.push(("AuthMethod".into(), want.into()));
            self.authenticated = self.chap.is_none();
        }
        if let Some(a) = text::get(pairs, "CHAP_A") {
            assert_eq!(a, "5");
            out.push(("CHAP_A".into(), "5".into()));
            out.push(("CHAP_I".into(), self.chap_id.to_string()));
            out.push(("CHAP_C".into(), text::encode_base64(&self.challenge)));
        }
        if let Some(n) = text::get(pairs, "CHAP_N") {
            let creds = self.chap.clone().expect("CHAP not configured");
            let r = text::parse_binary(text::get(pairs, "CHAP_R").unwrap()).unwrap();
            let want = chap::response(self.chap_id, creds.secret(), &self.challenge);
            if n != creds.user || r != want {
                return self.status(req, 2, 1);
            }
            self.authenticated = true;
            if let Some(i) = text::get(pairs, "CHAP_I") {
                let own = self.own.clone().expect("mutual CHAP not configured");
                let i = u8::try_from(text::parse_number(i).unwrap()).unwrap();
                let c = text::parse_binary(text::get(pairs, "CHAP_C").unwrap()).unwrap();
                let r = chap::response(i, own.secret(), &c);
                out.push(("CHAP_N".into(), own.user.clone()));
                out.push(("CHAP_R".into(), text::encode_hex(&r)));
            }
        }
        let data = text::emit(&out).unwrap();
        let mut r = self.response(req, data);
        r.transit = req.transit && self.authenticated;
        Pdu::LoginResponse(r)
    }

    fn operational(&mut self, req: &LoginRequest, pairs: &[(String, String)]) -> Pdu {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            let Some(key) = Key::from_name(k) else {
                continue;
            };
            if key.rule() == Rule::Declarative {
                if key == Key::MaxRecvDataSegmentLength {
                    out.push((k.clone(), "65536".into()));
                }
                continue;
            }
            if self.offers.iter().any(|(o, _)| o == k) {
                continue; // the initiator's answer to our offer
            }
            let ours = self.prefs.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone());
            let answer = match ours {
                Some(ours) => keys::respond(key, v, &ours).unwrap().answer,
                None => Some("NotUnderstood".into()),
            };
            if let Some(a) = answer {
                let a = match self.overrides.iter().find(|(o, _)| o == k) {
                    Some((_, over)) => over.clone(),
                    None => a,
                };
                out.push((k.clone(), a));
            }
        }
        let offering = !self.offers.is_empty() && text::get(pairs, "HeaderDigest").is_some();
        if offering {
            out.extend(self.offers.iter().cloned());
        }
        let transit = req.transit && !offering;
        let data = text::emit(&out).unwrap();
        if self.split && data.len() > 8 {
            // Cut mid-pair: the first half with C, the rest when the initiator asks.
            let mid = data.len() / 2 + 1;
            self.queued.push((data[mid..].to_vec(), transit));
            let mut r = self.response(req, data[..mid].to_vec());
            r.cont = true;
            return Pdu::LoginResponse(r);
        }
        let mut r = self.response(req, data);
        r.transit = transit;
        if transit {
            r.tsih = self.tsih;
        }
        Pdu::LoginResponse(r)
    }
}
