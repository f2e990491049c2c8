FROM debian
RUN <<EOF
apt-get update
apt-get install -y curl
EOF
RUN <<FILE1 cat > /file1 && <<FILE2 cat > /file2
I am
first
FILE1
I am
second
FILE2
RUN <<-"EOT" bash
	echo "$HOME is not expanded by the parser"
		indented twice
	EOT
RUN python3 <<'PY'
print("hi")
PY
COPY <<EOF /etc/motd
welcome to $HOSTNAME
EOF
ADD <<a.sh <<b.sh /scripts/
echo a
a.sh
echo b
b.sh
RUN cat <<<"here-string is not a heredoc"
ONBUILD RUN <<X
echo later
X
