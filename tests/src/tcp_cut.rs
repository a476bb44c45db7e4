//! A TCP forwarder that can be cut, to take a real server away from a
//! node and give it back. While cut, the port is closed (connections are
//! refused, as when the server is down) and every open connection ends.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct TcpCut {
    pub port: u16,
    target: SocketAddr,
    /// Bumped on every cut: connections opened before it end.
    generation: watch::Sender<u64>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl TcpCut {
    /// Forwards a free local port to `target`.
    pub async fn start(target: SocketAddr) -> TcpCut {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (generation, _) = watch::channel(0u64);
        let forwarder = TcpCut {
            port,
            target,
            generation,
            accept: Mutex::new(None),
        };
        forwarder.serve(listener);
        forwarder
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target;
        let generations = self.generation.subscribe();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut ended = generations.clone();
                ended.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = ended.changed() => {}
                    }
                });
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    /// Closes the port and every connection through it.
    pub fn cut(&self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// Opens the port again.
    pub async fn restore(&self) {
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                // The aborted accept task may not have dropped it yet.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        self.serve(listener);
    }
}

impl Drop for TcpCut {
    fn drop(&mut self) {
        self.cut();
    }
}
