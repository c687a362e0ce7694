module github.com/outcrop/outcrop

go 1.26.8
