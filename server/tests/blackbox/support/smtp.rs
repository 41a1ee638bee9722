//! A real SMTP server for tests: speaks enough ESMTP for lettre, keeps what it receives, can be
//! told to refuse the next N messages with a 451 or to take its time, and can be taken down
//! (its port closed, its connections cut) and brought back on the same port. `make soak`
//! (`server/benches/soak.rs`) uses it too.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    task::JoinHandle,
};

/// One message as received after `DATA`.
#[derive(Clone, Debug)]
pub struct Received {
    pub rcpt: Vec<String>,
    pub data: String,
}

impl Received {
    /// Whether it went to `address` (without the angle brackets of `RCPT TO`).
    pub fn is_to(&self, address: &str) -> bool {
        self.rcpt
            .iter()
            .any(|r| r.trim_matches(|c| c == '<' || c == '>') == address)
    }

    /// Its `Message-ID` header, as sent.
    pub fn message_id(&self) -> Option<&str> {
        self.data
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .map(|l| l[11..].trim())
    }
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    /// Every message that reached the end of DATA, refused or not.
    tried: Mutex<Vec<String>>,
    refuse: AtomicUsize,
    /// Milliseconds the sink waits before it accepts a message.
    delay_ms: AtomicUsize,
}

/// A running sink. Dropping it closes the port.
pub struct SmtpSink {
    pub port: u16,
    state: Arc<State>,
    /// The accepting task and every connection's.
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.take_down();
    }
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts a sink on `port` (0 for any).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind SMTP sink");
        let sink = Self {
            port: listener.local_addr().expect("addr").port(),
            state: Arc::default(),
            tasks: Arc::default(),
        };
        sink.serve(listener);
        sink
    }

    fn serve(&self, listener: TcpListener) {
        let (state, tasks) = (self.state.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let one = tokio::spawn(session(stream, state.clone()));
                tasks.lock().expect("sink lock").push(one);
            }
        });
        self.tasks.lock().expect("sink lock").push(accept);
    }

    /// The server goes away: its port is closed and its connections are cut.
    pub fn take_down(&self) {
        for t in self.tasks.lock().expect("sink lock").drain(..) {
            t.abort();
        }
    }

    /// The server is back, on the same port.
    pub async fn bring_up(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(_) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the SMTP sink cannot listen again: {e}"),
            }
        };
        self.serve(listener);
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Refuse the next `n` messages with `451` at the end of DATA.
    pub fn refuse_next(&self, n: usize) {
        self.state.refuse.store(n, Ordering::SeqCst);
    }

    /// Take `delay` over each message before accepting it (a slow mail server).
    pub fn slow_down(&self, delay: std::time::Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as usize, Ordering::SeqCst);
    }

    /// How many refusals are still pending.
    pub fn refusals_left(&self) -> usize {
        self.state.refuse.load(Ordering::SeqCst)
    }

    /// Every message sent to the end of DATA so far, the refused ones too.
    pub fn tried(&self) -> Vec<String> {
        self.state.tried.lock().expect("sink lock").clone()
    }

    /// Everything accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("sink lock").clone()
    }
}

async fn session(stream: tokio::net::TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut rcpt = Vec::new();
    if write
        .write_all(b"220 sink.test ESMTP test sink\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO")
            || upper.starts_with("MAIL FROM")
            || upper.starts_with("RSET")
            || upper.starts_with("NOOP")
        {
            if upper.starts_with("RSET") {
                rcpt.clear();
            }
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO") {
            rcpt.push(line[8..].trim().to_owned());
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            state.tried.lock().expect("sink lock").push(data.clone());
            let delay = state.delay_ms.load(Ordering::SeqCst) as u64;
            if delay > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            }
            let refused = state
                .refuse
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if refused {
                b"451 4.3.0 try again later\r\n"
            } else {
                state.received.lock().expect("sink lock").push(Received {
                    rcpt: std::mem::take(&mut rcpt),
                    data,
                });
                b"250 queued\r\n"
            }
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
