# escape=`
# syntax=docker/dockerfile:1.7

FROM mcr.microsoft.com/windows/servercore:ltsc2022
COPY testfile.txt c:\
RUN dir c:\ `
    # a comment inside the continuation

    && echo done
WORKDIR c:\Users\app
ENV PATH="c:\tools;${PATH}" ESC=`$literal
